// Links a layer of an exported model to the Python code that defined it.
//
// PyTorch's exporters name nodes by module scope: '/layer4/layer4.1/conv2/Conv' was made by the
// module at model.layer4[1].conv2. The rules, in order:
//  1. Stack trace (node metadata written by the dynamo exporter): the innermost frame in a
//     workspace file; when that line calls `self.NAME(...)` and the class around it assigns
//     NAME, the assignment (`self.NAME = nn.Conv2d(...)`) is the answer, else the frame's line.
//  2. Scope walk: from each class that assigns the scope's first name, follow the names through
//     the classes their assignments build (`self.block2 = ConvBlock(...)` → class ConvBlock) and
//     numeric parts through inline nn.Sequential/ModuleList elements (features.18.2 → the third
//     element of the Sequential at index 18). The root that explains the most parts wins; ties go
//     to the model's class (the class that assigns the most of the model's top-level names, when
//     all the model's layers are linked together), then to a class no other class builds, then to
//     the class defined first.
//     A repeated call's suffix (relu_1) is tried without it.
//  3. When the walk stops at a container built in code (a loop, `self._make_layer(...)`), its
//     indices are skipped and the walk starts again at the next name, from every class that
//     assigns it (layer4.1.conv2 → `self.conv2 = ...` in BasicBlock).
//  4. A scope that ends on such a container's index points at the container's assignment.
//  5. A scope walk that went through a block class links to where the block is instantiated:
//     '/block4/conv/Conv' → `self.block4 = ConvBlock(...)`, not ConvBlock's `self.conv = ...`,
//     which all the blocks share; that inner line is kept as `definition`. A walk that never
//     left its root class (or restarted by name, rule 3) links to the inner line.
import * as path from 'path';
import { ModuleElement, ModuleExpression, PythonClass, SourcePosition } from './python-modules';

export type LinkRule = 'trace' | 'scope' | 'name' | 'container';

export interface LayerSourceLink extends SourcePosition {
  rule: LinkRule;
  /** The class whose code holds the line, when known. */
  className?: string;
  /** Rule 5: the layer's own line inside the block class that the linked line instantiates. */
  definition?: SourcePosition & { className: string };
}

export interface LayerIdentity {
  /** ONNX node name, e.g. '/layer4/layer4.1/conv2/Conv'. */
  name: string;
  /** Stack trace from the node's metadata, where the exporter wrote one. */
  sourceTrace?: string;
}

/**
 * The module path of a node from its scoped name: '/features/features.1/conv/conv.0/Conv' →
 * ['features', '1', 'conv', '0']. Each scope part is a module name relative to some enclosing
 * module, so the longest tail of the path so far that is a proper prefix of the part is dropped.
 */
export function scopePath(nodeName: string): string[] | undefined {
  if (!nodeName.startsWith('/')) return undefined;
  const parts = nodeName.split('/').filter(Boolean).slice(0, -1);
  if (parts.length === 0) return undefined;
  const segments: string[] = [];
  for (const part of parts) {
    const pieces = part.split('.');
    let overlap = 0;
    for (let k = Math.min(segments.length, pieces.length - 1); k > 0; k--) {
      if (segments.slice(segments.length - k).every((s, i) => s === pieces[i])) {
        overlap = k;
        break;
      }
    }
    segments.push(...pieces.slice(overlap));
  }
  return segments;
}

const isIndex = (s: string) => /^\d+$/.test(s);
const lastName = (callee: string | undefined) => callee?.split('.').pop();

interface Walk {
  root: PythonClass;
  consumed: number;
  at?: ModuleExpression;
  cls: PythonClass;
  /** The walk stopped at a container built in code. */
  stuckAtContainer: boolean;
  /** The last assignment (or container element) that built the class the walk went on into. */
  instance?: { at: ModuleExpression; cls: PythonClass };
}

export class PythonModuleIndex {
  private readonly byName = new Map<string, PythonClass[]>();
  /** Classes that some assignment builds: blocks rather than whole models. */
  private readonly built = new Set<string>();

  constructor(readonly classes: PythonClass[]) {
    for (const cls of classes) this.byName.set(cls.name, [...(this.byName.get(cls.name) ?? []), cls]);
    const callees = (e: ModuleExpression): string[] => [lastName(e.callee) ?? '', ...(e.elements ?? []).flatMap(callees)];
    for (const cls of classes) for (const a of cls.attributes.values()) for (const c of callees(a)) if (c !== cls.name) this.built.add(c);
  }

  link(layer: LayerIdentity, fileOf?: (tracePath: string) => string | undefined, modelClass?: PythonClass): LayerSourceLink | undefined {
    const traced = layer.sourceTrace && fileOf ? this.fromTrace(layer.sourceTrace, fileOf) : undefined;
    if (traced) return traced;
    const segments = scopePath(layer.name);
    return segments ? this.fromScope(segments, modelClass) : undefined;
  }

  /** Links all layers of one model, with the model's class chosen once for all of them. */
  linkModel(layers: LayerIdentity[], fileOf?: (tracePath: string) => string | undefined): Map<string, LayerSourceLink> {
    const modelClass = this.modelClass(layers);
    const links = new Map<string, LayerSourceLink>();
    for (const layer of layers) {
      const link = this.link(layer, fileOf, modelClass);
      if (link) links.set(layer.name, link);
    }
    return links;
  }

  /** The class that assigns the most of the model's top-level module names. */
  private modelClass(layers: LayerIdentity[]): PythonClass | undefined {
    const names = new Set(layers.map((l) => scopePath(l.name)?.[0]).filter((n): n is string => n !== undefined));
    let best: { cls: PythonClass; hits: number } | undefined;
    for (const cls of this.classes) {
      const hits = [...names].filter((n) => attributeOf(cls, n)).length;
      if (hits > 0 && (!best || hits > best.hits)) best = { cls, hits };
    }
    return best?.cls;
  }

  fromScope(segments: string[], modelClass?: PythonClass): LayerSourceLink | undefined {
    let start = segments.findIndex((s) => !isIndex(s));
    let rule: LinkRule = 'scope';
    let fallback: LayerSourceLink | undefined;
    while (start >= 0 && start < segments.length) {
      const walk = this.bestWalk(segments, start, rule === 'scope' ? modelClass : undefined);
      if (!walk) return fallback;
      const position = walk.at ?? { file: walk.cls.file, line: walk.cls.line, column: 0 };
      const link: LayerSourceLink = { file: position.file, line: position.line, column: position.column, rule, className: walk.cls.name };
      if (walk.consumed === segments.length) {
        const instance = rule === 'scope' ? walk.instance : undefined;
        if (!instance) return link;
        const { file, line, column } = instance.at;
        return {
          file,
          line,
          column,
          rule,
          className: instance.cls.name,
          definition: { file: position.file, line: position.line, column: position.column, className: walk.cls.name },
        };
      }
      if (!walk.stuckAtContainer) return fallback;
      // Rule 4 if nothing better follows; rule 3: skip the indices, start again at the next name.
      fallback = { ...link, rule: 'container' };
      start = segments.findIndex((s, i) => i >= walk.consumed && !isIndex(s));
      if (start < 0) return fallback;
      rule = 'name';
    }
    return fallback;
  }

  private bestWalk(segments: string[], start: number, modelClass?: PythonClass): Walk | undefined {
    // Earlier in this order wins a tie: the model's class, then classes no assignment builds.
    const rank = (c: PythonClass) => (c === modelClass ? 0 : this.built.has(c.name) ? 2 : 1);
    let best: Walk | undefined;
    for (const root of this.classes) {
      if (!attributeOf(root, segments[start])) continue;
      const walk = this.walk(root, segments, start);
      const better = !best || walk.consumed > best.consumed || (walk.consumed === best.consumed && rank(root) < rank(best.root));
      if (better) best = walk;
    }
    return best;
  }

  /** Follows segments[from..] through `cls`'s assignments and the classes they build. */
  private walk(cls: PythonClass, segments: string[], from: number): Walk {
    let i = from;
    let current = cls;
    let at: ModuleExpression | undefined;
    let instance: Walk['instance'];
    while (i < segments.length) {
      const attribute = attributeOf(current, segments[i]);
      if (!attribute) return { root: cls, consumed: i, at, cls: current, stuckAtContainer: false, instance };
      at = attribute;
      i++;
      // Indices (and OrderedDict names) select elements of inline containers.
      let expression: ModuleExpression = attribute;
      while (i < segments.length && expression.elements !== undefined) {
        const element = elementOf(expression.elements, segments[i]);
        if (!element) break;
        expression = element;
        at = element;
        i++;
      }
      if (i < segments.length && isIndex(segments[i])) return { root: cls, consumed: i, at, cls: current, stuckAtContainer: expression.elements === undefined, instance };
      if (i === segments.length) return { root: cls, consumed: i, at, cls: current, stuckAtContainer: false, instance };
      const next = this.byName.get(lastName(expression.callee) ?? '')?.[0];
      if (!next) return { root: cls, consumed: i, at, cls: current, stuckAtContainer: false, instance };
      instance = { at: expression, cls: current };
      current = next;
    }
    return { root: cls, consumed: i, at, cls: current, stuckAtContainer: false, instance };
  }

  private fromTrace(trace: string, fileOf: (tracePath: string) => string | undefined): LayerSourceLink | undefined {
    const frames = [...trace.matchAll(/File "([^"]+)", line (\d+)/g)].map((m) => ({ path: m[1], line: Number(m[2]) - 1 }));
    for (const frame of frames.reverse()) {
      const file = fileOf(frame.path);
      if (!file) continue;
      const cls = this.classes.find((c) => c.file === file && c.line <= frame.line && frame.line <= c.endLine);
      const call = cls?.selfCalls.find((c) => c.line === frame.line && cls.attributes.has(c.name));
      const called = call ? cls?.attributes.get(call.name) : undefined;
      if (cls && called) return { file: called.file, line: called.line, column: called.column, rule: 'trace', className: cls.name };
      return { file, line: frame.line, column: 0, rule: 'trace', className: cls?.name };
    }
    return undefined;
  }
}

function attributeOf(cls: PythonClass, segment: string) {
  return cls.attributes.get(segment) ?? cls.attributes.get(segment.replace(/_\d+$/, ''));
}

function elementOf(elements: ModuleElement[], segment: string): ModuleElement | undefined {
  return isIndex(segment) ? elements[Number(segment)] : elements.find((e) => e.name === segment);
}

/**
 * The workspace file a stack-trace path names: the same absolute path, else the file whose path
 * shares the longest tail with it (a model exported on another machine), at least the file name.
 */
export function matchTracePath(tracePath: string, files: string[]): string | undefined {
  const wanted = tracePath.split(/[\\/]+/).filter(Boolean);
  let best: { file: string; score: number } | undefined;
  for (const file of files) {
    if (path.resolve(file) === path.resolve(tracePath)) return file;
    const have = file.split(/[\\/]+/).filter(Boolean);
    let score = 0;
    while (score < wanted.length && score < have.length && wanted[wanted.length - 1 - score] === have[have.length - 1 - score]) score++;
    if (score > 0 && (!best || score > best.score)) best = { file, score };
  }
  return best?.file;
}
