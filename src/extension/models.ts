// The models the compute worker holds for the open views: opened once per file, shared by the
// views that show it (counted), closed when the last one lets go, reopened when the execution
// provider setting changes. Also which model is "active" (current): the one the user last opened
// or looked at, which the side view and the status bar follow; a model becomes active only once it
// has loaded, so one that fails to open never does. When no model has been open for a
// while, the worker process is stopped, so closing the last view gives its memory back. A worker
// that dies (a crash, even while idle, or a kill after a cancel that did not stop) comes back
// empty: the open models are opened again in a fresh one.
import * as path from 'path';
import * as vscode from 'vscode';
import type { ModelView } from '../protocol';
import type { ComputeClient } from '../compute/client';
import { Settings, settingsFolderFor } from './settings';

interface Entry {
  users: number;
  view: Promise<ModelView>;
  /** Set once `view` resolves: what the status bar and lenses read synchronously. */
  loaded?: ModelView;
  /** While `view` is pending: the worker is opening the model. */
  opening: boolean;
  /** Cancels the pending open: from its notification, or when its last user lets go. */
  cancelOpening?: () => void;
}

/** Opens that take longer than this show a notification with progress and Cancel; quick ones show nothing. */
const OPEN_NOTIFICATION_DELAY_MS = 1000;

export class ModelStore implements vscode.Disposable {
  private readonly entries = new Map<string, Entry>();
  private readonly changed = new vscode.EventEmitter<string>();
  private readonly reopened = new vscode.EventEmitter<string>();
  private readonly activeChanged = new vscode.EventEmitter<string | undefined>();
  private activePath?: string;
  /** The model the user last turned to; it becomes active when (if) it loads. */
  private wantedPath?: string;
  private idleTimer?: ReturnType<typeof setTimeout>;
  private readonly stopWatchingWorker: () => void;

  /** A model's view changed: it opened, reopened or closed. */
  readonly onDidChange = this.changed.event;
  /** A model was opened again in the worker (new provider, restarted worker): its images are gone there. */
  readonly onDidReopen = this.reopened.event;
  readonly onDidChangeActive = this.activeChanged.event;

  constructor(
    private readonly client: ComputeClient,
    private readonly settings: () => Pick<Settings, 'executionProvider' | 'computeThreads' | 'preprocessing' | 'maxActivationMemoryMB' | 'maxImagePixels'>,
    /** How long the worker is kept after the last model closed (reopening soon after is quick). */
    private readonly workerIdleMs = 30_000,
  ) {
    // A model whose opening was under way may be what crashed the worker: it is not retried by
    // itself (that could crash it again and again); its view shows why it could not open.
    this.stopWatchingWorker = client.onUnexpectedExit(() => void this.reopenAll((entry) => !entry.opening));
  }

  /** Opens the model for one more user; rejects with the reason it cannot be opened. */
  acquire(modelPath: string): Promise<ModelView> {
    clearTimeout(this.idleTimer);
    const entry = this.entries.get(modelPath);
    if (entry) {
      entry.users++;
      return entry.view;
    }
    const created = { users: 1, opening: true } as Entry;
    this.startOpening(modelPath, created);
    this.entries.set(modelPath, created);
    created.view.then(
      (view) => {
        created.loaded = view;
        if (this.wantedPath === modelPath) this.makeActive(modelPath);
        this.changed.fire(modelPath);
      },
      () => {
        // A model that failed to open is not kept: the next acquire tries again.
        if (this.entries.get(modelPath) === created) this.entries.delete(modelPath);
      },
    );
    return created.view;
  }

  async release(modelPath: string): Promise<void> {
    const entry = this.entries.get(modelPath);
    if (!entry || --entry.users > 0) return;
    this.entries.delete(modelPath);
    // Nobody waits for it any more: a large model stops opening rather than finishing in vain.
    if (entry.opening) entry.cancelOpening?.();
    if (this.wantedPath === modelPath) this.wantedPath = undefined;
    if (this.activePath === modelPath) this.setActive(undefined);
    this.changed.fire(modelPath);
    try {
      await entry.view;
      // Opened again while this one was still opening: the worker's new openModel reopens it, and a
      // closeModel sent now would arrive after it and close the model under the new user.
      if (this.entries.has(modelPath)) return;
      await this.client.call('closeModel', { modelPath });
    } catch {
      // Nothing to close: the model never opened, or the worker is gone.
    }
    if (this.entries.size === 0) this.stopWorkerWhenIdle();
  }

  private stopWorkerWhenIdle(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      if (this.entries.size === 0) void this.client.stopIfIdle();
    }, this.workerIdleMs);
  }

  /** The model's view when it is open and loaded. */
  loaded(modelPath: string): ModelView | undefined {
    return this.entries.get(modelPath)?.loaded;
  }

  openModels(): ModelView[] {
    return [...this.entries.values()].flatMap((e) => (e.loaded ? [e.loaded] : []));
  }

  get active(): string | undefined {
    return this.activePath;
  }

  /** Makes `modelPath` the active model now if it is loaded, else as soon as it loads. */
  setActive(modelPath: string | undefined): void {
    this.wantedPath = modelPath;
    if (!modelPath || this.loaded(modelPath)) this.makeActive(modelPath);
  }

  private makeActive(modelPath: string | undefined): void {
    if (modelPath === this.activePath) return;
    this.activePath = modelPath;
    this.activeChanged.fire(modelPath);
  }

  /**
   * Reopens the open models (`which` of them): after a settings change or when the worker died.
   * A reopen asked for while one runs follows it, so the latest settings are the ones that hold.
   */
  reopenAll(which: (entry: Entry) => boolean = () => true): Promise<void> {
    const reopen = () =>
      Promise.all(
        [...this.entries.entries()]
          .filter(([, entry]) => which(entry))
          .map(async ([modelPath, entry]) => {
            entry.loaded = await this.startOpening(modelPath, entry).catch(() => undefined);
            if (entry.loaded && this.wantedPath === modelPath) this.makeActive(modelPath);
            this.changed.fire(modelPath);
            this.reopened.fire(modelPath);
          }),
      ).then(() => undefined);
    const next = this.reopening.then(reopen);
    this.reopening = next.catch(() => undefined);
    return next;
  }

  private reopening: Promise<void> = Promise.resolve();

  /** Starts (re)opening an entry's model in the worker; `opening` holds until this open settles. */
  private startOpening(modelPath: string, entry: Entry): Promise<ModelView> {
    const abort = new AbortController();
    let latest = { fraction: 0, message: '' };
    let report: ((fraction: number, message: string) => void) | undefined;
    const view = this.open(modelPath, abort.signal, (fraction, message) => {
      latest = { fraction, message };
      report?.(fraction, message);
    });
    entry.view = view;
    entry.opening = true;
    entry.cancelOpening = () => abort.abort();
    const notify = setTimeout(() => {
      void vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `ConvLens: opening ${modelLabel(modelPath)}`, cancellable: true },
        (progress, token) => {
          token.onCancellationRequested(() => abort.abort());
          let shown = 0;
          report = (fraction, message) => {
            progress.report({ message, increment: Math.max(0, (fraction - shown) * 100) });
            shown = Math.max(shown, fraction);
          };
          report(latest.fraction, latest.message);
          return view.catch(() => undefined);
        },
      );
    }, OPEN_NOTIFICATION_DELAY_MS);
    const settled = () => {
      clearTimeout(notify);
      if (entry.view === view) {
        entry.opening = false;
        entry.cancelOpening = undefined;
      }
    };
    view.then(settled, settled);
    return view;
  }

  private open(modelPath: string, signal: AbortSignal, onProgress: (fraction: number, message: string) => void): Promise<ModelView> {
    const { executionProvider, computeThreads, preprocessing, maxActivationMemoryMB, maxImagePixels } = this.settings();
    const activationMemory = { maxMegabytes: maxActivationMemoryMB, limitHint: 'raise it with the setting convlens.maxActivationMemoryMB' };
    const decode = { maxPixels: maxImagePixels, limitHint: 'raise it with the setting convlens.maxImagePixels' };
    return this.client.call(
      'openModel',
      { modelPath, provider: executionProvider, threads: computeThreads, preprocessing, settingsFolder: settingsFolderFor(modelPath), activationMemory, decode },
      { signal, onProgress },
    );
  }

  dispose(): void {
    clearTimeout(this.idleTimer);
    this.stopWatchingWorker();
    this.changed.dispose();
    this.reopened.dispose();
    this.activeChanged.dispose();
  }
}

export function modelLabel(modelPath: string): string {
  return path.basename(modelPath);
}
