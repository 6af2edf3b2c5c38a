// Builds the extension host, the compute worker, the CLI, the webview app and (with --tests)
// the test and benchmark files. `node esbuild.mjs [--watch] [--production] [--tests] [--bench]`.
import * as esbuild from 'esbuild';
import { readdirSync, statSync } from 'fs';
import { join } from 'path';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');
const tests = process.argv.includes('--tests');
const bench = process.argv.includes('--bench');

const node = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: !production,
  minify: production,
  external: ['vscode', 'onnxruntime-node'],
  logLevel: 'warning',
};

const builds = [
  { ...node, entryPoints: { extension: 'src/extension/extension.ts' }, outdir: 'dist' },
  { ...node, entryPoints: { worker: 'src/compute/worker.ts' }, outdir: 'dist' },
  { ...node, entryPoints: { cli: 'src/cli/main.ts' }, outdir: 'dist' },
  {
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    sourcemap: production ? false : 'inline',
    minify: production,
    entryPoints: { webview: 'webview/main.ts' },
    outdir: 'dist',
    loader: { '.css': 'text' },
    logLevel: 'warning',
  },
];

function listTs(dir) {
  return readdirSync(dir).flatMap((name) => {
    if (name === 'node_modules') return [];
    const full = join(dir, name);
    if (statSync(full).isDirectory()) return name === 'models' || name === 'fixtures' ? [] : listTs(full);
    return full.endsWith('.ts') ? [full] : [];
  });
}

if (tests || bench) {
  // Tests and benchmarks are transpiled file by file (no bundling): one module per file.
  builds.push({
    entryPoints: [...listTs('src'), ...listTs('test'), ...(bench ? listTs('bench') : [])].filter((f) => !f.startsWith('test/vscode')),
    outdir: 'out',
    outbase: '.',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    sourcemap: true,
    logLevel: 'warning',
  });
}

// A missing entry is a build error (a renamed or deleted file), not a bundle to skip quietly.
const missing = builds
  .flatMap((b) => (Array.isArray(b.entryPoints) ? b.entryPoints : Object.values(b.entryPoints)))
  .filter((e) => {
    try {
      return !statSync(e).isFile();
    } catch {
      return true;
    }
  });
if (missing.length > 0) {
  console.error(`esbuild.mjs: missing entry point${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`);
  process.exit(1);
}

if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
