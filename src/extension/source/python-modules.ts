// Reads PyTorch module definitions out of Python source, on tokens: each class with the
// submodules its methods assign (`self.conv2 = nn.Conv2d(...)`, `self.add_module("conv", ...)`),
// and for nn.Sequential / nn.ModuleList written inline, their elements in order (positional
// arguments, a list literal, or OrderedDict / dict entries with their names).
import { Argument, callArguments } from '../codelens/inference-calls';
import { tokenizePython } from '../codelens/python-tokens';
import { Token, literalValue } from '../codelens/tokens';

export interface SourcePosition {
  file: string;
  /** 0-based. */
  line: number;
  column: number;
}

export interface ModuleExpression extends SourcePosition {
  /** The dotted callee that builds the module, e.g. 'nn.Conv2d', 'ConvBlock', 'self._make_layer'. */
  callee?: string;
  /** Elements of an inline nn.Sequential / nn.ModuleList; undefined when not written out (built by a loop, `*layers`). */
  elements?: ModuleElement[];
}

export interface ModuleElement extends ModuleExpression {
  /** The element's name in an OrderedDict/dict Sequential; positional elements are named by their index. */
  name?: string;
}

export interface ModuleAttribute extends ModuleExpression {
  name: string;
}

export interface PythonClass {
  name: string;
  bases: string[];
  file: string;
  line: number;
  /** First and last line of the class body (0-based, inclusive). */
  endLine: number;
  attributes: Map<string, ModuleAttribute>;
  /** Calls of submodules in the class's methods (`x = self.conv2(x)`), by 0-based line. */
  selfCalls: { name: string; line: number }[];
}

const CONTAINERS = new Set(['Sequential', 'ModuleList', 'ModuleDict']);

interface LogicalLine {
  tokens: Token[];
  /** Index of the first token in the file's token array. */
  first: number;
  indent: number;
}

function logicalLines(tokens: Token[]): LogicalLine[] {
  const lines: LogicalLine[] = [];
  let first = 0;
  tokens.forEach((t, k) => {
    if (t.kind !== 'newline') return;
    if (k > first) lines.push({ tokens: tokens.slice(first, k), first, indent: tokens[first].column });
    first = k + 1;
  });
  return lines;
}

export function parsePythonModules(text: string, file: string): PythonClass[] {
  const tokens = tokenizePython(text);
  const classes: PythonClass[] = [];
  const open: { cls: PythonClass; indent: number }[] = [];
  for (const line of logicalLines(tokens)) {
    while (open.length > 0 && line.indent <= open[open.length - 1].indent) open.pop();
    const current = open[open.length - 1]?.cls;
    if (current) current.endLine = Math.max(current.endLine, line.tokens[line.tokens.length - 1].line);
    const [head, name] = line.tokens;
    if (head.kind === 'name' && head.text === 'class' && name?.kind === 'name') {
      const cls: PythonClass = { name: name.text, bases: classBases(tokens, line), file, line: head.line, endLine: head.line, attributes: new Map(), selfCalls: [] };
      classes.push(cls);
      open.push({ cls, indent: line.indent });
      continue;
    }
    if (current) {
      const attribute = assignedSubmodule(tokens, line, file);
      if (attribute && !current.attributes.has(attribute.name)) current.attributes.set(attribute.name, attribute);
      current.selfCalls.push(...selfCalls(line.tokens));
    }
  }
  return classes;
}

function selfCalls(tokens: Token[]): { name: string; line: number }[] {
  const calls: { name: string; line: number }[] = [];
  tokens.forEach((t, k) => {
    if (t.text === 'self' && tokens[k + 1]?.text === '.' && tokens[k + 2]?.kind === 'name' && tokens[k + 3]?.text === '(') {
      calls.push({ name: tokens[k + 2].text, line: tokens[k + 2].line });
    }
  });
  return calls;
}

function classBases(tokens: Token[], line: LogicalLine): string[] {
  const paren = line.first + 2;
  if (tokens[paren]?.text !== '(') return [];
  return callArguments(tokens, paren, true)
    .filter((a) => !a.keyword)
    .map((a) => a.tokens.map((t) => t.text).join(''));
}

/** `self.NAME = <expr>` or `self.add_module("NAME", <expr>)` on a logical line. */
function assignedSubmodule(tokens: Token[], line: LogicalLine, file: string): ModuleAttribute | undefined {
  const t = line.tokens;
  if (t[0]?.text !== 'self' || t[1]?.text !== '.' || t[2]?.kind !== 'name') return undefined;
  if (t[3]?.kind === 'op' && t[3].text === '=') {
    return { name: t[2].text, ...moduleExpression(tokens, line.first + 4, file), line: t[2].line, column: t[0].column };
  }
  if (t[2].text === 'add_module' && t[3]?.text === '(') {
    const [nameArg, moduleArg] = callArguments(tokens, line.first + 3, true);
    const name = literalValue(nameArg?.tokens.length === 1 ? nameArg.tokens[0] : undefined);
    if (name === undefined || !moduleArg) return undefined;
    return { name, ...moduleExpression(tokens, moduleArg.first, file), line: t[0].line, column: t[0].column };
  }
  return undefined;
}

/** The module an expression starting at tokens[at] builds: its callee and, for containers, its elements. */
function moduleExpression(tokens: Token[], at: number, file: string): ModuleExpression {
  const start = tokens[at];
  const position = { file, line: start?.line ?? 0, column: start?.column ?? 0 };
  let k = at;
  const parts: string[] = [];
  while (tokens[k]?.kind === 'name') {
    parts.push(tokens[k].text);
    if (tokens[k + 1]?.text === '.' && tokens[k + 2]?.kind === 'name') k += 2;
    else break;
  }
  if (parts.length === 0 || tokens[k + 1]?.text !== '(') return position;
  const callee = parts.join('.');
  const expression: ModuleExpression = { ...position, callee };
  if (CONTAINERS.has(parts[parts.length - 1])) expression.elements = containerElements(tokens, k + 1, file);
  return expression;
}

function containerElements(tokens: Token[], paren: number, file: string): ModuleElement[] | undefined {
  const args = callArguments(tokens, paren, true).filter((a) => !a.keyword);
  if (args.length === 1) {
    const only = args[0];
    const head = only.tokens[0];
    if (head?.text === '[' && only.tokens.length > 1) return listElements(tokens, only.first, file);
    if (head?.text === '{') return dictElements(tokens, only.first, file);
    if (head?.kind === 'name' && (head.text === 'OrderedDict' || head.text === 'collections') && only.tokens.some((x) => x.text === '[')) {
      return listElements(tokens, tokens.indexOf(only.tokens.find((x) => x.text === '[') as Token, only.first), file, true);
    }
  }
  if (args.some((a) => a.tokens[0]?.text === '*' || a.tokens[0]?.text === '**')) return undefined;
  return args.map((a) => moduleExpression(tokens, a.first, file));
}

/** `[a, b, c]`, or with `named` a list of `("name", module)` pairs. */
function listElements(tokens: Token[], bracket: number, file: string, named = false): ModuleElement[] | undefined {
  const items = callArguments(tokens, bracket, true);
  if (items.some((a) => a.tokens[0]?.text === '*')) return undefined;
  if (!named) return items.map((a) => moduleExpression(tokens, a.first, file));
  const pairs = items.map((a) => namedPair(tokens, a, file));
  return pairs.every((p) => p !== undefined) ? (pairs as ModuleElement[]) : undefined;
}

function namedPair(tokens: Token[], item: Argument, file: string): ModuleElement | undefined {
  if (item.tokens[0]?.text !== '(') return undefined;
  const [name, module] = callArguments(tokens, item.first, true);
  const key = name?.tokens.length === 1 ? literalValue(name.tokens[0]) : undefined;
  return key !== undefined && module ? { ...moduleExpression(tokens, module.first, file), name: key } : undefined;
}

/** `{"name": module, ...}`. */
function dictElements(tokens: Token[], brace: number, file: string): ModuleElement[] | undefined {
  const entries = callArguments(tokens, brace, true).map((entry) => {
    const colon = entry.tokens.findIndex((x) => x.text === ':');
    const key = colon === 1 ? literalValue(entry.tokens[0]) : undefined;
    return key === undefined ? undefined : { ...moduleExpression(tokens, tokens.indexOf(entry.tokens[2], entry.first), file), name: key };
  });
  return entries.every((e) => e !== undefined) ? (entries as ModuleElement[]) : undefined;
}
