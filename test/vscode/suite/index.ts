// The extension tests' entry (extensionTestsPath): runs the suite files beside it with mocha in
// the extension host — or, when the harness runs its Restricted Mode pass
// (CONVLENS_E2E_SUITE=restricted), the files in restricted/ alone — writes the log and
// results.json where the harness looks (CONVLENS_E2E_DIR), and rejects when a test failed so the
// workbench reports exit code 1.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { format } from 'util';
import Mocha from 'mocha';

export async function run(): Promise<void> {
  const dir = process.env.CONVLENS_E2E_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-e2e-'));
  const log = path.join(dir, 'suite.log');
  // The spec reporter writes through Base.consoleLog; send it to the log the harness prints.
  Mocha.reporters.Base.consoleLog = (...args: unknown[]) => {
    const line = `${format(...args)}\n`;
    fs.appendFileSync(log, line);
    if (!process.env.CONVLENS_E2E_DIR) process.stdout.write(line);
  };
  const mocha = new Mocha({ ui: 'bdd', timeout: 120_000, color: false, reporter: 'spec' });
  const suiteDir = process.env.CONVLENS_E2E_SUITE === 'restricted' ? path.join(__dirname, 'restricted') : __dirname;
  // CONVLENS_E2E_FILES=2-,10- runs the files whose names start so (while working on them).
  const only = process.env.CONVLENS_E2E_FILES?.split(',').filter(Boolean);
  const chosen = (f: string) => f.endsWith('.test.js') && (!only || only.some((prefix) => f.startsWith(prefix)));
  for (const file of fs.readdirSync(suiteDir).filter(chosen).sort()) mocha.addFile(path.join(suiteDir, file));
  const tests: { title: string; state?: string; error?: string }[] = [];
  const failures = await new Promise<number>((resolve) => {
    const runner = mocha.run(resolve);
    runner.on('test end', (test) => tests.push({ title: test.fullTitle(), state: test.state }));
    runner.on('pending', (test) => tests.push({ title: test.fullTitle(), state: 'skipped' }));
    runner.on('fail', (test, err: Error) => {
      const entry = tests.find((t) => t.title === test.fullTitle());
      if (entry) entry.error = err.message;
      else tests.push({ title: test.fullTitle(), state: 'failed', error: err.message });
    });
  });
  const passed = tests.filter((t) => t.state === 'passed').length;
  const skipped = tests.filter((t) => t.state === 'skipped').length;
  fs.writeFileSync(path.join(dir, 'results.json'), JSON.stringify({ passed, failed: failures, skipped, tests }, null, 2));
  if (failures > 0) throw new Error(`${failures} extension test(s) failed`);
}
