// Bundles the extension-host test harness and suite into out/vscode-test/ (esbuild.mjs leaves
// test/vscode out of the unit-test build): run-host.js (code-server + Chromium), run-electron.js
// (@vscode/test-electron, for machines with internet), suite/index.js and one file per test.
// `node test/vscode/build.mjs`
import * as esbuild from 'esbuild';
import { readdirSync } from 'fs';
import { dirname, join } from 'path';
import { fileURLToPath } from 'url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', '..', 'out', 'vscode-test');
const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: 'inline',
  logLevel: 'warning',
  external: ['vscode', 'mocha', 'playwright-core', '@vscode/test-electron'],
};
// suite/*.test.ts run in the trusted pass, suite/restricted/*.test.ts in the Restricted Mode pass.
const tests = ['', 'restricted/'].flatMap((dir) =>
  readdirSync(join(here, 'suite', dir))
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => dir + f),
);

await Promise.all([
  esbuild.build({ ...common, entryPoints: { 'run-host': join(here, 'run-host.ts'), 'run-electron': join(here, 'run-electron.ts') }, outdir: out }),
  esbuild.build({
    ...common,
    entryPoints: Object.fromEntries([['index', join(here, 'suite', 'index.ts')], ...tests.map((f) => [f.replace(/\.ts$/, ''), join(here, 'suite', f)])]),
    outdir: join(out, 'suite'),
  }),
]);
