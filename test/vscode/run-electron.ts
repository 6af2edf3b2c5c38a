// The same suite in a downloaded VS Code desktop (Electron) with @vscode/test-electron, for
// machines with internet access (this one has none: use run-host.ts). The webview bridge is
// absent there, so the suite drives the webviews through the extension's test API alone.
//   node out/vscode-test/run-electron.js       (after `node test/vscode/build.mjs`)
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runTests } from '@vscode/test-electron';
import { makeWorkspace } from './workspace';

async function main(): Promise<void> {
  const repo = path.resolve(__dirname, '..', '..');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-e2e-'));
  const workspace = makeWorkspace(path.join(work, 'workspace'), repo);
  try {
    await runTests({
      extensionDevelopmentPath: repo,
      extensionTestsPath: path.join(repo, 'out', 'vscode-test', 'suite', 'index.js'),
      launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust', '--skip-welcome', '--skip-release-notes'],
      extensionTestsEnv: { CONVLENS_TEST_HOOKS: '1', CONVLENS_E2E_DIR: work },
    });
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  console.error(`run-electron: ${err.message}`);
  process.exit(1);
});
