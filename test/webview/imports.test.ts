// The webview app's modules form a tree: no import cycles (a cycle makes module order, and so
// which tab's code is initialised first, depend on the entry point). Read from esbuild's metafile
// of the real bundle; no browser needed.
import * as assert from 'assert';
import * as esbuild from 'esbuild';
import * as path from 'path';
import { ROOT } from './fixtures';

/** Every import cycle among `graph`'s modules, each as the path that closes it. */
export function importCycles(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (module: string): void => {
    state.set(module, 'open');
    stack.push(module);
    for (const next of graph.get(module) ?? []) {
      if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(module, 'done');
  };
  for (const module of graph.keys()) if (!state.has(module)) visit(module);
  return cycles;
}

describe('webview: module structure', () => {
  it('finds a cycle when there is one (the check itself)', () => {
    const graph = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', ['a']],
    ]);
    assert.deepStrictEqual(importCycles(graph), [['a', 'b', 'c', 'a']]);
    assert.deepStrictEqual(
      importCycles(
        new Map([
          ['a', ['b', 'c']],
          ['b', ['c']],
          ['c', []],
        ]),
      ),
      [],
    );
  });

  it("has no import cycle among the webview app's modules", async () => {
    const result = await esbuild.build({
      entryPoints: [path.join(ROOT, 'webview/main.ts')],
      absWorkingDir: ROOT,
      bundle: true,
      platform: 'browser',
      format: 'iife',
      loader: { '.css': 'text' },
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const ours = (file: string) => !file.includes('node_modules');
    const graph = new Map(
      Object.entries(result.metafile.inputs)
        .filter(([file]) => ours(file))
        .map(([file, input]) => [file, input.imports.map((i) => i.path).filter(ours)]),
    );
    assert.ok(
      [...graph.keys()].some((f) => f.startsWith('webview/panel/dataset/')),
      "the metafile lists the Dataset tab's modules",
    );
    assert.deepStrictEqual(importCycles(graph), []);
  });
});
