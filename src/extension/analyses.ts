// The host side of the model panel's Dataset and Inside tabs: which dataset folders the view may
// analyse (folders of the workspace that hold images in class folders, and folders the user picks),
// the dataset the view works on, and the requests that run the dataset and inside-the-network jobs
// on the compute worker. Paths from the webview are checked here: a dataset folder must be one the
// host offered or the user picked, an image opened from the dataset must lie inside it, and a marks
// file must be the dataset's own (boxes.json at its root) or one the user picked.
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { ComputeClient } from '../core/runtime/client';
import type { DatasetFolderView, HostToWebview, WebviewToHost } from '../protocol';
import { IMAGE_GLOB, insideWorkspace } from './workspaceFiles';

const ANALYSIS_TYPES = [
  'pickDataset', 'datasetFeatures', 'datasetRules', 'pickMarks', 'datasetMarkCheck', 'datasetEmbedding', 'datasetNeighbors', 'datasetImportance', 'datasetOpenImage',
  'exportRules', 'receptiveFields', 'effectiveField', 'kernels', 'featureGallery', 'attention', 'sanityCheck',
] as const;

export type AnalysisMessage = Extract<WebviewToHost, { type: (typeof ANALYSIS_TYPES)[number] }>;

export function isAnalysisMessage(message: WebviewToHost): message is AnalysisMessage {
  return (ANALYSIS_TYPES as readonly string[]).includes(message.type);
}

type Work = (signal: AbortSignal, onProgress: (fraction: number, message: string) => void) => Promise<void>;

/** What the analyses need of the view's session. */
export interface AnalysisHost {
  client: ComputeClient;
  /** Where caches go (the extension's workspace storage); none: nothing is cached. */
  storageDir?: string;
  modelPath(): string | undefined;
  hasImage(imageId: string): boolean;
  imageName(imageId: string): string | undefined;
  post(message: HostToWebview): void;
  /** Runs a request with progress and cancellation, then posts done / cancelled / error. */
  track(requestId: string, title: string, visibility: 'notification' | 'window', work: Work): Promise<void>;
  /** Loads an image file into the view and selects it. */
  openImage(uri: vscode.Uri): Promise<void>;
  methodTitle(method: string): Promise<string>;
}

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);
const SPLIT_FOLDERS = new Set(['train', 'test', 'val', 'valid', 'validation']);
const EXCLUDED = '{**/node_modules/**,**/.*/**,**/out/**,**/dist/**}';
const SEARCH_LIMIT = 20_000;

export class Analyses {
  /** Folders the view may analyse, by path. */
  private readonly folders = new Map<string, DatasetFolderView>();
  private dataset?: { folder: string; datasetId: string; ownMarks?: string; pickedMarks?: string };

  constructor(private readonly host: AnalysisHost) {}

  /** The model changed (or was reopened): its dataset is gone from the worker. */
  reset(): void {
    this.dataset = undefined;
  }

  /** Offers the workspace's dataset folders (and those picked before). */
  async postFolders(chosen?: string): Promise<void> {
    try {
      for (const folder of await workspaceDatasetFolders()) if (!this.folders.has(folder.path)) this.folders.set(folder.path, folder);
    } catch {
      // The workspace search failed: the folders picked by hand are still offered.
    }
    this.host.post({ type: 'datasetFolders', folders: [...this.folders.values()], chosen });
  }

  async handle(message: AnalysisMessage): Promise<void> {
    switch (message.type) {
      case 'pickDataset':
        return this.pickFolder();
      case 'datasetFeatures':
        return this.features(message.requestId, message.folder, message.layer);
      case 'datasetRules':
        return this.onDataset(message.requestId, `Distilling rules (depth ${message.depth}, channel ${message.pooling})`, 'notification', async (datasetId, signal, onProgress) => {
          const rules = await this.host.client.call('datasetRules', { datasetId, depth: message.depth, minLeaf: message.minLeaf, pooling: message.pooling }, { signal, onProgress });
          this.host.post({ type: 'datasetRules', requestId: message.requestId, rules });
        });
      case 'pickMarks':
        return this.pickMarks();
      case 'datasetMarkCheck': {
        const offered = [this.dataset?.ownMarks, this.dataset?.pickedMarks];
        if (this.dataset && !offered.includes(message.marksFile)) return this.host.post({ type: 'error', requestId: message.requestId, message: 'Choose the marks file with "Choose marks file…".' });
        return this.onDataset(message.requestId, `Checking the mark (${path.basename(message.marksFile)})`, 'notification', async (datasetId, signal, onProgress) => {
          const check = await this.host.client.call('datasetMarkCheck', { datasetId, marksFile: message.marksFile, pooling: message.pooling }, { signal, onProgress });
          this.host.post({ type: 'datasetMarkCheck', requestId: message.requestId, check });
        });
      }
      case 'datasetEmbedding':
        return this.onDataset(message.requestId, `${message.method.toUpperCase()} map of the features`, 'notification', async (datasetId, signal, onProgress) => {
          const embedding = await this.host.client.call('datasetEmbedding', { datasetId, method: message.method }, { signal, onProgress });
          this.host.post({ type: 'datasetEmbedding', requestId: message.requestId, embedding });
        });
      case 'datasetNeighbors':
        if (!this.host.hasImage(message.imageId)) return this.host.post({ type: 'error', requestId: message.requestId, message: 'That image is no longer loaded; choose it again.' });
        return this.onDataset(message.requestId, `Images like ${this.host.imageName(message.imageId)}`, 'window', async (datasetId, signal, onProgress) => {
          const neighbors = await this.host.client.call('datasetNeighbors', { datasetId, imageId: message.imageId, k: message.k }, { signal, onProgress });
          this.host.post({ type: 'datasetNeighbors', requestId: message.requestId, neighbors });
        });
      case 'datasetImportance': {
        const what = message.method === 'ablation' ? 'Ablating channels' : 'Channel importance (gradient × activation)';
        return this.onDataset(message.requestId, what, 'notification', async (datasetId, signal, onProgress) => {
          const importance = await this.host.client.call('datasetImportance', { datasetId, classIndex: message.classIndex, method: message.method, channels: message.channels }, { signal, onProgress });
          this.host.post({ type: 'datasetImportance', requestId: message.requestId, importance });
        });
      }
      case 'datasetOpenImage':
        return this.openDatasetImage(message.relPath);
      case 'exportRules':
        return this.exportRules(message.format);
      case 'receptiveFields':
        return this.onModel(message.requestId, 'Receptive fields', 'window', async (modelPath) => {
          const fields = await this.host.client.call('receptiveFields', { modelPath });
          this.host.post({ type: 'receptiveFields', requestId: message.requestId, fields });
        });
      case 'effectiveField':
        return this.onModel(message.requestId, `Effective receptive field of ${message.layer}`, 'notification', async (modelPath, signal, onProgress) => {
          const field = await this.host.client.call('effectiveField', { modelPath, layer: message.layer }, { signal, onProgress });
          this.host.post({ type: 'effectiveField', requestId: message.requestId, field });
        });
      case 'kernels':
        return this.onModel(message.requestId, 'First-layer kernels', 'window', async (modelPath) => {
          const kernels = await this.host.client.call('kernels', { modelPath });
          this.host.post({ type: 'kernels', requestId: message.requestId, kernels });
        });
      case 'featureGallery':
        return this.onModel(message.requestId, `Visualising ${message.count} channels of ${message.layer}`, 'notification', async (modelPath, signal, onProgress) => {
          const gallery = await this.host.client.call('featureGallery', {
            modelPath, layer: message.layer, count: message.count, steps: message.steps, cacheDir: this.host.storageDir,
          }, { signal, onProgress });
          this.host.post({ type: 'featureGallery', requestId: message.requestId, gallery });
        });
      case 'attention':
        if (!this.host.hasImage(message.imageId)) return this.host.post({ type: 'error', requestId: message.requestId, message: 'That image is no longer loaded; choose it again.' });
        return this.onModel(message.requestId, `Attention maps of ${this.host.imageName(message.imageId)}`, 'window', async (modelPath, signal, onProgress) => {
          const attention = await this.host.client.call('attention', { modelPath, imageId: message.imageId }, { signal, onProgress });
          this.host.post({ type: 'attention', requestId: message.requestId, attention });
        });
      case 'sanityCheck': {
        if (!this.host.hasImage(message.imageId)) return this.host.post({ type: 'error', requestId: message.requestId, message: 'That image is no longer loaded; choose it again.' });
        const title = `Sanity check of ${await this.host.methodTitle(message.method)}`;
        return this.onModel(message.requestId, title, 'notification', async (modelPath, signal, onProgress) => {
          const result = await this.host.client.call('sanityCheck', { modelPath, imageId: message.imageId, method: message.method, layer: message.layer }, { signal, onProgress });
          this.host.post({ type: 'sanityCheck', requestId: message.requestId, result });
        });
      }
    }
  }

  private onModel(requestId: string, title: string, visibility: 'notification' | 'window', work: (modelPath: string, ...rest: Parameters<Work>) => Promise<void>): Promise<void> {
    const modelPath = this.host.modelPath();
    if (!modelPath) return Promise.resolve(this.host.post({ type: 'error', requestId, message: 'No model is open in this view.' }));
    return this.host.track(requestId, title, visibility, (signal, onProgress) => work(modelPath, signal, onProgress));
  }

  private onDataset(requestId: string, title: string, visibility: 'notification' | 'window', work: (datasetId: string, ...rest: Parameters<Work>) => Promise<void>): Promise<void> {
    const dataset = this.dataset;
    if (!dataset) return Promise.resolve(this.host.post({ type: 'error', requestId, message: 'Extract the features of a dataset folder first.' }));
    return this.host.track(requestId, title, visibility, (signal, onProgress) => work(dataset.datasetId, signal, onProgress));
  }

  private async pickFolder(): Promise<void> {
    const picked = await vscode.window.showOpenDialog({
      title: 'Choose a dataset folder (images in one folder per class)',
      canSelectFolders: true, canSelectFiles: false, canSelectMany: false,
      defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
    });
    const folder = picked?.[0];
    if (!folder || folder.scheme !== 'file') return;
    const relative = vscode.workspace.asRelativePath(folder, false);
    this.folders.set(folder.fsPath, { path: folder.fsPath, label: relative === folder.fsPath ? folder.fsPath : relative });
    await this.postFolders(folder.fsPath);
  }

  private async features(requestId: string, folder: string, layer: string): Promise<void> {
    const offered = this.folders.get(folder);
    if (!offered) return this.host.post({ type: 'error', requestId, message: 'Choose the dataset folder from the list or with "Choose folder…".' });
    await this.onModel(requestId, `Features of ${offered.label}`, 'notification', async (modelPath, signal, onProgress) => {
      const { datasetId, view } = await this.host.client.call('datasetFeatures', { modelPath, folder, layer, cacheDir: this.host.storageDir }, { signal, onProgress });
      if (this.host.modelPath() !== modelPath) return;
      this.dataset = { folder: view.folder, datasetId, ownMarks: view.marks?.file };
      this.host.post({ type: 'dataset', requestId, dataset: view });
    });
  }

  /** The user picks the JSON of mark boxes for the dataset; the mark check may then read it. */
  private async pickMarks(): Promise<void> {
    const dataset = this.dataset;
    if (!dataset) return this.host.post({ type: 'error', message: 'Extract the features of a dataset folder first.' });
    const picked = await vscode.window.showOpenDialog({
      title: 'Choose the marks file (JSON: { "images": { "<path>": { "mark": { "bbox": [x0, y0, x1, y1] } } } })',
      canSelectFiles: true, canSelectFolders: false, canSelectMany: false,
      defaultUri: vscode.Uri.file(dataset.folder), filters: { JSON: ['json'] },
    });
    const file = picked?.[0];
    if (!file || file.scheme !== 'file' || this.dataset !== dataset) return;
    dataset.pickedMarks = file.fsPath;
    const relative = vscode.workspace.asRelativePath(file, false);
    this.host.post({ type: 'datasetMarks', marks: { path: file.fsPath, label: relative === file.fsPath ? file.fsPath : relative } });
  }

  /** Loads a dataset image into the view, if `relPath` really names an image inside the dataset folder. */
  private async openDatasetImage(relPath: string): Promise<void> {
    const folder = this.dataset?.folder;
    if (!folder) return this.host.post({ type: 'error', message: 'Extract the features of a dataset folder first.' });
    const file = imageInside(folder, relPath);
    if (!file) return this.host.post({ type: 'error', message: `${relPath} is not an image of the dataset folder.` });
    await this.host.openImage(vscode.Uri.file(file));
  }

  private async exportRules(format: 'json' | 'txt'): Promise<void> {
    try {
      if (!this.dataset) throw new Error('extract the features of a dataset folder and distil its rules first');
      const { bytes, suggestedName } = await this.host.client.call('exportRules', { datasetId: this.dataset.datasetId, format });
      const modelPath = this.host.modelPath();
      const folder = modelPath ? path.dirname(modelPath) : vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
      const target = await vscode.window.showSaveDialog({
        title: `Export the rules as ${format === 'json' ? 'JSON' : 'text'}`,
        defaultUri: folder ? vscode.Uri.file(path.join(folder, suggestedName)) : undefined,
        filters: format === 'json' ? { JSON: ['json'] } : { Text: ['txt'] },
      });
      if (!target) return;
      await vscode.workspace.fs.writeFile(target, bytes);
      const open = await vscode.window.showInformationMessage(`ConvLens: saved ${path.basename(target.fsPath)}.`, 'Open');
      if (open) await vscode.commands.executeCommand('vscode.open', target);
    } catch (err) {
      this.host.post({ type: 'error', message: `Could not export the rules: ${(err as Error).message}` });
    }
  }
}

/** The real path of `relPath` under `folder` when it is an image file there (no way out through '..' or symlinks). */
export function imageInside(folder: string, relPath: string): string | undefined {
  try {
    const root = fs.realpathSync(folder);
    const file = fs.realpathSync(path.resolve(root, relPath));
    const relative = path.relative(root, file);
    if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) return undefined;
    if (!IMAGE_EXTENSIONS.has(path.extname(file).toLowerCase()) || !fs.statSync(file).isFile()) return undefined;
    return file;
  } catch {
    return undefined;
  }
}

/**
 * Workspace folders laid out as ImageFolder datasets: a folder with at least two sub-folders that
 * hold images (its classes), and the folder above it when it is a split (train, test, val).
 */
async function workspaceDatasetFolders(): Promise<DatasetFolderView[]> {
  const found = await vscode.workspace.findFiles(IMAGE_GLOB, EXCLUDED, SEARCH_LIMIT);
  const files = found.filter((u) => u.scheme === 'file').map((u) => u.fsPath);
  const classFolders = new Map<string, Set<string>>();
  for (const file of files) {
    const classFolder = path.dirname(file);
    const root = path.dirname(classFolder);
    if (!classFolders.has(root)) classFolders.set(root, new Set());
    classFolders.get(root)!.add(classFolder);
  }
  const roots = new Set([...classFolders.entries()].filter(([, members]) => members.size >= 2).map(([root]) => root));
  for (const root of [...roots]) if (SPLIT_FOLDERS.has(path.basename(root).toLowerCase())) roots.add(path.dirname(root));
  return [...roots]
    .filter((root) => insideWorkspace(root))
    .map((root) => ({ path: root, label: vscode.workspace.asRelativePath(root, false) || path.basename(root), images: files.filter((f) => f.startsWith(root + path.sep)).length }))
    .sort((a, b) => a.label.localeCompare(b.label));
}
