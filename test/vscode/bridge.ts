// A file-based channel from the test suite (running in the extension host) to the harness that
// drives the browser (Playwright): the suite asks for what only the browser can do or see — click
// in a webview, read a webview's or the workbench's text, take a screenshot — and the harness
// answers. Requests and answers are JSON files in one folder (both run on this machine).
import * as fs from 'fs';
import * as path from 'path';

export type BridgeRequest =
  /** The text of the webview whose body has data-view=`view` (and, if given, whose <title> is `title`). */
  | { action: 'webviewText'; view: 'panel' | 'side'; title?: string }
  /** Clicks the first element matching `selector` in that webview. */
  | { action: 'webviewClick'; view: 'panel' | 'side'; title?: string; selector: string }
  /** Opens the select (vscode-single-select) matching `selector` and clicks the option labelled `option`; answers the new value. */
  | { action: 'webviewSelect'; view: 'panel' | 'side'; title?: string; selector: string; option: string }
  /** The text of the first workbench element matching `selector` ('' when none). */
  | { action: 'workbenchText'; selector: string }
  /** Right-clicks the explorer row named `item` and clicks the context-menu entry `entry`. */
  | { action: 'explorerContextMenu'; item: string; entry: string }
  /** The labels of the context-menu entries on the explorer row `item` (the menu is closed again). */
  | { action: 'explorerContextMenuEntries'; item: string }
  | { action: 'screenshot'; name: string };

export interface BridgeAnswer {
  ok: boolean;
  text?: string;
  entries?: string[];
  error?: string;
}

const REQUEST = /^request-([\w-]+)\.json$/;
const request = (dir: string, id: string) => path.join(dir, `request-${id}.json`);
const answer = (dir: string, id: string) => path.join(dir, `answer-${id}.json`);

/** The suite's side: one request at a time, answered within `timeoutMs`. */
export class BridgeClient {
  constructor(private readonly dir: string) {}

  static fromEnvironment(): BridgeClient | undefined {
    const dir = process.env.CONVLENS_E2E_BRIDGE;
    return dir && fs.existsSync(dir) ? new BridgeClient(dir) : undefined;
  }

  async ask(req: BridgeRequest, timeoutMs = 30_000): Promise<BridgeAnswer> {
    // Unique across the suite's files (each bundles its own copy of this module).
    const n = `${Date.now().toString(36)}-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
    const file = request(this.dir, n);
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(req));
    fs.renameSync(`${file}.tmp`, file);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (fs.existsSync(answer(this.dir, n))) return JSON.parse(fs.readFileSync(answer(this.dir, n), 'utf8')) as BridgeAnswer;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`the test harness did not answer ${req.action} within ${timeoutMs} ms`);
  }
}

/** The harness's side: answers each request with `handle`, one at a time, until stopped. */
export function serveBridge(dir: string, handle: (req: BridgeRequest) => Promise<BridgeAnswer>): { stop(): void } {
  const answered = new Set<string>();
  let stopped = false;
  const loop = async () => {
    while (!stopped) {
      const id = fs
        .readdirSync(dir)
        .map((f) => REQUEST.exec(f)?.[1])
        .find((i): i is string => i !== undefined && !answered.has(i));
      if (id === undefined) {
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      answered.add(id);
      let result: BridgeAnswer;
      try {
        result = await handle(JSON.parse(fs.readFileSync(request(dir, id), 'utf8')) as BridgeRequest);
      } catch (err) {
        result = { ok: false, error: (err as Error).message };
      }
      fs.writeFileSync(`${answer(dir, id)}.tmp`, JSON.stringify(result));
      fs.renameSync(`${answer(dir, id)}.tmp`, answer(dir, id));
    }
  };
  void loop();
  return { stop: () => (stopped = true) };
}
