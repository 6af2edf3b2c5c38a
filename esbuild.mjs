// Builds the extension host, the compute worker, the CLI, the webview app and (with --tests)
// the test and benchmark files. `node esbuild.mjs [--watch] [--production] [--tests] [--bench]`.
import * as esbuild from 'esbuild';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'fs';
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
  // What bin/convlens.js runs before the CLI's bundle, alone, so that a relaunch loads no more.
  { ...node, entryPoints: { 'huge-pages': 'src/core/onnx/huge-pages.ts' }, outdir: 'dist' },
  // The dataset's decoding threads (src/core/dataset/decode-pool.ts loads it next to the bundle).
  { ...node, entryPoints: { 'decode-worker': 'src/core/dataset/decode-worker.ts' }, outdir: 'dist' },
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

// The packages bundled into dist/ (found from esbuild's metafiles), each with its licence text,
// go into dist/THIRD-PARTY-NOTICES.txt, which the .vsix carries (test/unit/licences.test.ts
// holds every bundled licence to the allowed list).
function packageRoot(input) {
  const parts = input.split('/');
  const at = parts.lastIndexOf('node_modules');
  if (at < 0) return undefined;
  const scoped = parts[at + 1].startsWith('@');
  return parts.slice(0, at + (scoped ? 3 : 2)).join('/');
}

function writeNotices(metafiles) {
  const roots = new Set(
    metafiles
      .flatMap((m) => Object.keys(m.inputs))
      .map(packageRoot)
      .filter(Boolean),
  );
  const entries = [...roots]
    .map((root) => {
      const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
      const licenceFile = readdirSync(root).find((f) => /^(licen[cs]e|copying)(\.(md|txt))?$/i.test(f));
      const text = licenceFile ? readFileSync(join(root, licenceFile), 'utf8').trim() : `(no licence file; package.json says ${pkg.license})`;
      return { name: pkg.name, version: pkg.version, license: pkg.license ?? 'UNKNOWN', text };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
  const header = 'ConvLens bundles the following packages into dist/. Their licences follow.\n\n';
  const list = entries.map((e) => `${e.name}@${e.version}: ${e.license}`).join('\n');
  const texts = entries.map((e) => `${'='.repeat(78)}\n${e.name}@${e.version} (${e.license})\n\n${e.text}\n`).join('\n');
  writeFileSync('dist/THIRD-PARTY-NOTICES.txt', `${header}${list}\n\n${texts}`);
}

if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
} else {
  const bundles = builds.filter((b) => b.bundle).map((b) => ({ ...b, metafile: true }));
  const results = await Promise.all([...bundles, ...builds.filter((b) => !b.bundle)].map((b) => esbuild.build(b)));
  if (existsSync('dist')) writeNotices(results.slice(0, bundles.length).map((r) => r.metafile));
}
