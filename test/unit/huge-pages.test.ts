// Huge pages for the processes that run onnxruntime (core/onnx/huge-pages.ts): the environment
// glibc reads its tunable from, the relaunch that gives it to a process started without it (the
// same arguments, streams, exit code and death by signal), and the two processes that get it: the
// CLI (bin/convlens.js) and the compute worker. glibc reads GLIBC_TUNABLES only on Linux; the
// relaunch and the processes are checked there.
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ComputeClient } from '../../src/compute/client';
import { HUGE_PAGES_TUNABLE, hugePagesValue, withHugePages, withoutHugePages } from '../../src/core/onnx/huge-pages';

const ROOT = path.resolve(__dirname, '../../..');
const HUGE_PAGES_MODULE = path.resolve(__dirname, '../../src/core/onnx/huge-pages.js');
const FAKE_WORKER = path.join(ROOT, 'test/fixtures/workers/fake-worker.js');
const CLI = path.join(ROOT, 'bin/convlens.js');

/** process.env without GLIBC_TUNABLES, plus `extra`. */
function envWith(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  if (!('GLIBC_TUNABLES' in extra)) delete env.GLIBC_TUNABLES;
  return env;
}

describe('huge pages for the processes that run onnxruntime', function () {
  this.timeout(60000);

  it('adds the tunable to GLIBC_TUNABLES on Linux, keeping the others and a choice of the user', () => {
    assert.strictEqual(withHugePages({}, 'linux').GLIBC_TUNABLES, HUGE_PAGES_TUNABLE);
    assert.strictEqual(withHugePages({ GLIBC_TUNABLES: 'glibc.malloc.tcache_count=7' }, 'linux').GLIBC_TUNABLES, `glibc.malloc.tcache_count=7:${HUGE_PAGES_TUNABLE}`);
    for (const own of ['glibc.malloc.hugetlb=0', 'glibc.malloc.tcache_count=7:glibc.malloc.hugetlb=2']) {
      const env = { GLIBC_TUNABLES: own };
      assert.strictEqual(withHugePages(env, 'linux'), env, own);
    }
    // A tunable whose name only ends the same way is not the user's choice.
    assert.strictEqual(withHugePages({ GLIBC_TUNABLES: 'x.glibc.malloc.hugetlb=0' }, 'linux').GLIBC_TUNABLES, `x.glibc.malloc.hugetlb=0:${HUGE_PAGES_TUNABLE}`);
    const env = { PATH: '/bin' };
    assert.strictEqual(withHugePages(env, 'darwin'), env);
    assert.strictEqual(withHugePages(env, 'win32'), env);
    // Reading it back, and taking it out (the bench's peers), the others kept.
    assert.strictEqual(hugePagesValue(withHugePages({}, 'linux')), '1');
    assert.strictEqual(hugePagesValue({ GLIBC_TUNABLES: 'x.glibc.malloc.hugetlb=1' }), undefined);
    assert.strictEqual(hugePagesValue({}), undefined);
    assert.deepStrictEqual(withoutHugePages({ HOME: '/h', GLIBC_TUNABLES: `glibc.malloc.tcache_count=7:${HUGE_PAGES_TUNABLE}` }), {
      HOME: '/h',
      GLIBC_TUNABLES: 'glibc.malloc.tcache_count=7',
    });
    assert.deepStrictEqual(withoutHugePages({ HOME: '/h', GLIBC_TUNABLES: HUGE_PAGES_TUNABLE }), { HOME: '/h' });
    // The caller's environment is never modified.
    const mine: NodeJS.ProcessEnv = { HOME: '/home/me' };
    assert.notStrictEqual(withHugePages(mine, 'linux'), mine);
    assert.deepStrictEqual(mine, { HOME: '/home/me' });
  });

  describe('on Linux', () => {
    before(function () {
      if (process.platform !== 'linux') {
        console.log('      (skipped: glibc tunables exist on Linux only)');
        this.skip();
      }
    });

    // A script that relaunches itself, then reports what its process got and ends as told.
    let folder: string;
    let script: string;
    after(() => {
      if (folder) fs.rmSync(folder, { recursive: true, force: true });
    });
    before(() => {
      folder = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-huge-pages-'));
      script = path.join(folder, 'relaunching.js');
      fs.writeFileSync(
        script,
        `require(${JSON.stringify(HUGE_PAGES_MODULE)}).relaunchWithHugePages().then((code) => {
          if (code !== undefined) return void (process.exitCode = code);
          const input = require('fs').readFileSync(0, 'utf8');
          console.log(JSON.stringify({ tunables: process.env.GLIBC_TUNABLES ?? null, args: process.argv.slice(2), input }));
          console.error('to stderr');
          const end = process.argv[2];
          if (end === 'signal') process.kill(process.pid, 'SIGTERM');
          else process.exitCode = Number(end);
        });`,
      );
    });

    it('runs a process started without huge pages again with them: the same arguments, streams and exit code, once', () => {
      const out = spawnSync(process.execPath, [script, '7', 'a b', '--flag'], {
        encoding: 'utf8',
        input: 'from stdin',
        env: envWith({ GLIBC_TUNABLES: 'glibc.malloc.tcache_count=7' }),
      });
      assert.strictEqual(out.status, 7, out.stderr);
      const lines = out.stdout.trim().split('\n');
      assert.strictEqual(lines.length, 1, out.stdout);
      assert.deepStrictEqual(JSON.parse(lines[0]), { tunables: `glibc.malloc.tcache_count=7:${HUGE_PAGES_TUNABLE}`, args: ['7', 'a b', '--flag'], input: 'from stdin' });
      assert.strictEqual(out.stderr, 'to stderr\n');
    });

    it('ends by the signal its relaunched process died of', () => {
      const out = spawnSync(process.execPath, [script, 'signal'], { encoding: 'utf8', input: '', env: envWith() });
      assert.strictEqual(out.signal, 'SIGTERM', `status ${out.status}, stderr ${out.stderr}`);
      assert.strictEqual(JSON.parse(out.stdout).tunables, HUGE_PAGES_TUNABLE);
    });

    it("runs where it is when the user's GLIBC_TUNABLES decides huge pages", () => {
      const out = spawnSync(process.execPath, [script, '0'], { encoding: 'utf8', input: '', env: envWith({ GLIBC_TUNABLES: 'glibc.malloc.hugetlb=0' }) });
      assert.strictEqual(out.status, 0, out.stderr);
      assert.strictEqual(JSON.parse(out.stdout).tunables, 'glibc.malloc.hugetlb=0');
    });

    it('the CLI relaunches before loading its bundle: the process that runs a command has huge pages', () => {
      // Preloaded into every node process of the command: each says what it was started with.
      const probe = path.join(folder, 'probe.js');
      fs.writeFileSync(probe, `process.stderr.write('started with ' + (process.env.GLIBC_TUNABLES ?? 'none') + '\\n');`);
      const out = spawnSync(process.execPath, [CLI, 'inspect', path.join(ROOT, 'sample/shapes.onnx'), '--json'], {
        encoding: 'utf8',
        env: envWith({ NODE_OPTIONS: `--require ${probe}`, CONVLENS_CACHE_DIR: 'off' }),
      });
      assert.strictEqual(out.status, 0, out.stderr);
      assert.deepStrictEqual(out.stderr.trim().split('\n'), ['started with none', `started with ${HUGE_PAGES_TUNABLE}`]);
      assert.ok(JSON.parse(out.stdout).inputs, out.stdout);
    });

    it('the compute worker is started with huge pages, and with the tunables of the host', async () => {
      const saved = process.env.GLIBC_TUNABLES;
      process.env.GLIBC_TUNABLES = 'glibc.malloc.tcache_count=7';
      const client = new ComputeClient(FAKE_WORKER);
      try {
        const result = await client.call('openModel', { modelPath: 'tunables', provider: 'cpu' });
        assert.deepStrictEqual(result, { tunables: `glibc.malloc.tcache_count=7:${HUGE_PAGES_TUNABLE}` });
      } finally {
        await client.dispose();
        if (saved === undefined) delete process.env.GLIBC_TUNABLES;
        else process.env.GLIBC_TUNABLES = saved;
      }
    });
  });
});
