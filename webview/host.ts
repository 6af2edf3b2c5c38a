// The webview's only channel to the extension host: typed messages out, persisted UI state.
import type { WebviewToHost } from '../src/protocol';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

const api = acquireVsCodeApi();

export function post(message: WebviewToHost): void {
  api.postMessage(message);
}

let counter = 0;
/** A request id unique within this webview's lifetime and across reloads (matches the protocol's id pattern). */
export function newRequestId(kind: string): string {
  counter += 1;
  return `${kind}-${Date.now().toString(36)}-${counter}`;
}

/** UI preferences kept while the webview is hidden and restored when it is shown again. */
export interface SavedState {
  tab?: number;
  colormap?: string;
  opacity?: number;
  /**
   * The colormap/opacity settings the view last had from VS Code: after a reload, the same settings
   * again leave the user's colormap and opacity (store.ts 'settings'), a changed one applies.
   */
  settings?: { colormap: string; opacity: number; method: string };
  /** The first explanation was run (panel/first-run.ts): a reload does not run it again. */
  firstRun?: boolean;
}

export function savedState(): SavedState {
  const s = api.getState();
  return typeof s === 'object' && s !== null ? (s as SavedState) : {};
}

export function saveState(patch: SavedState): void {
  api.setState({ ...savedState(), ...patch });
}
