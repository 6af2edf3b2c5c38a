// The host side of the model panel's Dataset and Inside tabs: which dataset folders the view may
// analyse (folders of the workspace that hold images in class folders, and folders the user picks),
// the dataset the view works on, and the requests that run the dataset and inside-the-network jobs
// on the compute worker: a table from request kind to its job, progress title and what it needs
// (the model, a loaded image, the extracted dataset). Paths from the webview are checked here: a dataset folder must be one the
// host offered or the user picked, an image opened from the dataset must lie inside it, and a marks
// file must be the dataset's own (boxes.json at its root) or one the user picked.
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { ComputeClient } from '../compute/client';
import type { DatasetFolderView, DatasetView, HostToWebview, RequestKind, RequestMessage, RequestParams, RequestResult, WebviewToHost } from '../protocol';
import { IMAGE_GLOB, insideWorkspace } from './workspace-files';

/** The commands of the Dataset tab (pickers, opening an image, exporting), handled here. */
const DATASET_COMMANDS = ['pickDataset', 'pickMarks', 'datasetOpenImage', 'exportRules', 'pickGalleryFolder', 'galleryOpenImage'] as const;
export type DatasetCommand = Extract<WebviewToHost, { type: (typeof DATASET_COMMANDS)[number] }>;

export function isDatasetCommand(message: WebviewToHost): message is DatasetCommand {
  return (DATASET_COMMANDS as readonly string[]).includes(message.type);
}

type Work<R> = (signal: AbortSignal, onProgress: (fraction: number, message: string) => void) => Promise<R>;

/** What the analyses need of the view's session. */
export interface AnalysisHost {
  client: ComputeClient;
  /** Where caches go (the extension's workspace storage); none: nothing is cached. */
  storageDir?: string;
  modelPath(): string | undefined;
  hasImage(imageId: string): boolean;
  imageName(imageId: string): string | undefined;
  post(message: HostToWebview): void;
  /** Runs a request with progress and cancellation, then posts its response, cancelled or error. */
  track<K extends RequestKind>(requestId: string, kind: K, title: string, visibility: 'notification' | 'window', work: Work<RequestResult<K>>): Promise<void>;
  /** Loads an image file into the view and selects it. */
  openImage(uri: vscode.Uri): Promise<void>;
  /** Loads an image file into the view, selects it and explains it there (the gallery's card click). */
  explainImage(uri: vscode.Uri, settings: Omit<RequestParams<'explain'>, 'imageId'>): Promise<void>;
  methodTitle(method: string): Promise<string>;
}

/** The requests of the Dataset and Inside tabs. */
export type AnalysisKind = Exclude<RequestKind, 'explain' | 'compare' | 'activations'>;

/** What an analysis runs on: the view's model, or the dataset extracted for it. */
interface Inputs {
  modelPath: string;
  datasetId: string;
  storageDir?: string;
  /** Folders the analysis may read: the workspace folders and the folders the user picked. */
  roots: string[];
  signal: AbortSignal;
  onProgress: (fraction: number, message: string) => void;
  /** Makes an extracted dataset the one the dataset analyses work on. */
  adoptDataset(datasetId: string, view: DatasetView): void;
}

/** One analysis: what it needs, the title of its progress, and the worker job that answers it. */
interface Analysis<K extends AnalysisKind> {
  needs: 'model' | 'dataset';
  /** The image a request names, which must still be loaded. */
  image?: (params: RequestParams<K>) => string | undefined;
  visibility: 'notification' | 'window';
  title(params: RequestParams<K>, host: AnalysisHost): string | Promise<string>;
  run(client: ComputeClient, params: RequestParams<K>, inputs: Inputs): Promise<RequestResult<K>>;
}

const withProgress = (inputs: Inputs) => ({ signal: inputs.signal, onProgress: inputs.onProgress });

/** Every analysis by request kind; the kind is the name of the job that answers it. */
const ANALYSES: { [K in AnalysisKind]: Analysis<K> } = {
  // The dataset it extracts becomes the one the dataset analyses below work on.
  datasetFeatures: {
    needs: 'model',
    visibility: 'notification',
    title: (p) => `Features of ${path.basename(p.folder)}`,
    run: async (client, p, inputs) => {
      const { datasetId, view } = await client.call('datasetFeatures', { modelPath: inputs.modelPath, ...p, cacheDir: inputs.storageDir }, withProgress(inputs));
      inputs.adoptDataset(datasetId, view);
      return view;
    },
  },
  datasetRules: {
    needs: 'dataset',
    visibility: 'notification',
    title: (p) => `Distilling rules (depth ${p.depth}, channel ${p.pooling})`,
    run: (client, p, inputs) => client.call('datasetRules', { datasetId: inputs.datasetId, ...p }, withProgress(inputs)),
  },
  datasetMarkCheck: {
    needs: 'dataset',
    visibility: 'notification',
    title: (p) => `Checking the mark (${path.basename(p.marksFile)})`,
    run: (client, p, inputs) => client.call('datasetMarkCheck', { datasetId: inputs.datasetId, ...p }, withProgress(inputs)),
  },
  datasetMap: {
    needs: 'dataset',
    visibility: 'notification',
    title: (p) => `${p.method.toUpperCase()} map of the features`,
    run: (client, p, inputs) => client.call('datasetMap', { datasetId: inputs.datasetId, ...p }, withProgress(inputs)),
  },
  datasetChannelValues: {
    needs: 'dataset',
    visibility: 'window',
    title: (p) => `Channel ${p.channel} across the dataset`,
    run: (client, p, inputs) => client.call('datasetChannelValues', { datasetId: inputs.datasetId, ...p }, withProgress(inputs)),
  },
  datasetErrors: {
    needs: 'dataset',
    visibility: 'notification',
    title: () => 'Error analysis',
    run: (client, p, inputs) => client.call('datasetErrors', { datasetId: inputs.datasetId, ...p }, withProgress(inputs)),
  },
  datasetSlice: {
    needs: 'dataset',
    visibility: 'window',
    title: () => 'Slice of the dataset',
    run: (client, p, inputs) => client.call('datasetSlice', { datasetId: inputs.datasetId, ...p }, withProgress(inputs)),
  },
  datasetChannelPositions: {
    needs: 'dataset',
    visibility: 'window',
    title: () => 'Where the rule channels fire',
    run: (client, p, inputs) => client.call('datasetChannelPositions', { datasetId: inputs.datasetId, ...p }, withProgress(inputs)),
  },
  datasetNeighbors: {
    needs: 'dataset',
    image: (p) => p.imageId,
    visibility: 'window',
    title: (p, host) => `Images like ${host.imageName(p.imageId)}`,
    run: (client, p, inputs) => client.call('datasetNeighbors', { datasetId: inputs.datasetId, ...p }, withProgress(inputs)),
  },
  datasetImportance: {
    needs: 'dataset',
    visibility: 'notification',
    title: (p) => (p.method === 'ablation' ? 'Ablating channels' : 'Channel importance (gradient × activation)'),
    run: (client, p, inputs) => client.call('datasetImportance', { datasetId: inputs.datasetId, ...p }, withProgress(inputs)),
  },
  receptiveFields: {
    needs: 'model',
    visibility: 'window',
    title: () => 'Receptive fields',
    run: (client, _p, inputs) => client.call('receptiveFields', { modelPath: inputs.modelPath }),
  },
  effectiveField: {
    needs: 'model',
    visibility: 'notification',
    title: (p) => `Effective receptive field of ${p.layer}`,
    run: (client, p, inputs) => client.call('effectiveField', { modelPath: inputs.modelPath, layer: p.layer }, withProgress(inputs)),
  },
  kernels: {
    needs: 'model',
    visibility: 'window',
    title: () => 'First-layer kernels',
    run: (client, _p, inputs) => client.call('kernels', { modelPath: inputs.modelPath }),
  },
  featureGallery: {
    needs: 'model',
    visibility: 'notification',
    title: (p) => `Visualising ${p.count} channels of ${p.layer}`,
    run: (client, p, inputs) => client.call('featureGallery', { modelPath: inputs.modelPath, ...p, cacheDir: inputs.storageDir }, withProgress(inputs)),
  },
  attention: {
    needs: 'model',
    image: (p) => p.imageId,
    visibility: 'window',
    title: (p, host) => `Attention maps of ${host.imageName(p.imageId)}`,
    run: (client, p, inputs) => client.call('attention', { modelPath: inputs.modelPath, imageId: p.imageId }, withProgress(inputs)),
  },
  sanityCheck: {
    needs: 'model',
    image: (p) => p.imageId,
    visibility: 'notification',
    title: async (p, host) => `Sanity check of ${await host.methodTitle(p.method)}`,
    run: (client, p, inputs) => client.call('sanityCheck', { modelPath: inputs.modelPath, ...p }, withProgress(inputs)),
  },
  taskOutputs: {
    needs: 'model',
    image: (p) => p.imageId,
    visibility: 'window',
    title: (p, host) => `Masks and boxes of ${host.imageName(p.imageId)}`,
    run: (client, p, inputs) => client.call('taskOutputs', { modelPath: inputs.modelPath, ...p }, withProgress(inputs)),
  },
  explainAll: {
    needs: 'model',
    visibility: 'window',
    title: async (p, host) => `${await host.methodTitle(p.method)} on ${path.basename(p.folder)}, images ${p.offset + 1}–${p.offset + p.limit}`,
    run: (client, p, inputs) => client.call('explainAll', { modelPath: inputs.modelPath, ...p, roots: inputs.roots }, withProgress(inputs)),
  },
  graph: {
    needs: 'model',
    image: (p) => p.imageId,
    visibility: 'window',
    title: (p, host) => (p.imageId ? `Graph with the activations of ${host.imageName(p.imageId)}` : 'Laying out the graph'),
    run: (client, p, inputs) => client.call('graph', { modelPath: inputs.modelPath, ...p }, withProgress(inputs)),
  },
};

export type AnalysisRequest = Extract<RequestMessage, { kind: AnalysisKind }>;

export function isAnalysisRequest(message: RequestMessage): message is AnalysisRequest {
  return Object.prototype.hasOwnProperty.call(ANALYSES, message.kind);
}

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);
const SPLIT_FOLDERS = new Set(['train', 'test', 'val', 'valid', 'validation']);
const EXCLUDED = '{**/node_modules/**,**/.*/**,**/out/**,**/dist/**}';
const SEARCH_LIMIT = 20_000;

export class Analyses {
  /** Folders the view may analyse, by path. */
  private readonly folders = new Map<string, DatasetFolderView>();
  /** Folders "Explain all" may run on: folders of workspace images, and those picked. */
  private readonly galleryFolders = new Map<string, DatasetFolderView>();
  private readonly pickedGalleryFolders = new Set<string>();
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

  /** Offers the folders of workspace images to "Explain all" (and those picked before). */
  async postGalleryFolders(chosen?: string): Promise<void> {
    try {
      for (const folder of await workspaceImageFolders()) if (!this.galleryFolders.has(folder.path)) this.galleryFolders.set(folder.path, folder);
    } catch {
      // The workspace search failed: the folders picked by hand are still offered.
    }
    this.host.post({ type: 'galleryFolders', folders: [...this.galleryFolders.values()], chosen });
  }

  async command(message: DatasetCommand): Promise<void> {
    switch (message.type) {
      case 'pickDataset':
        return this.pickFolder();
      case 'pickMarks':
        return this.pickMarks();
      case 'datasetOpenImage':
        return this.openDatasetImage(message.relPath);
      case 'exportRules':
        return this.exportRules(message.format);
      case 'pickGalleryFolder':
        return this.pickGalleryFolder();
      case 'galleryOpenImage': {
        const { folder, relPath, method, layer, target, options } = message;
        const file = this.galleryFolderAllowed(folder) ? imageInside(folder, relPath) : undefined;
        if (!file) return this.host.post({ type: 'error', message: `${relPath} is not an image of a folder offered to "Explain all".` });
        return this.host.explainImage(vscode.Uri.file(file), { method, layer, target, options });
      }
    }
  }

  /** Runs an analysis request: refused with a sentence when what it needs is missing, else tracked. */
  async request(message: AnalysisRequest): Promise<void> {
    return this.run(message.requestId, message.kind, message.params as RequestParams<typeof message.kind>);
  }

  private async run<K extends AnalysisKind>(requestId: string, kind: K, params: RequestParams<K>): Promise<void> {
    const analysis = ANALYSES[kind] as unknown as Analysis<K>;
    const refuse = (message: string) => this.host.post({ type: 'error', requestId, message });
    const imageId = analysis.image?.(params);
    if (imageId !== undefined && !this.host.hasImage(imageId)) return refuse('That image is no longer loaded; choose it again.');
    const modelPath = this.host.modelPath();
    if (!modelPath) return refuse('No model is open in this view.');
    const dataset = this.dataset;
    if (analysis.needs === 'dataset' && !dataset) return refuse('Extract the features of a dataset folder first.');
    if (kind === 'datasetFeatures' && !this.folders.has((params as RequestParams<'datasetFeatures'>).folder)) {
      return refuse('Choose the dataset folder from the list or with "Choose folder…".');
    }
    if (kind === 'explainAll' && !this.galleryFolderAllowed((params as RequestParams<'explainAll'>).folder)) {
      return refuse('Choose a folder of the workspace from the list, or one with "Choose folder…".');
    }
    if (kind === 'datasetMarkCheck' && ![dataset?.ownMarks, dataset?.pickedMarks].includes((params as RequestParams<'datasetMarkCheck'>).marksFile)) {
      return refuse('Choose the marks file with "Choose marks file…".');
    }
    const title = await analysis.title(params, this.host);
    const adoptDataset = (datasetId: string, view: DatasetView) => {
      // A dataset extracted for a model the view no longer shows is not the view's dataset.
      if (this.host.modelPath() === modelPath) this.dataset = { folder: view.folder, datasetId, ownMarks: view.marks?.file };
    };
    return this.host.track(requestId, kind, title, analysis.visibility, (signal, onProgress) =>
      analysis.run(this.host.client, params, {
        modelPath,
        datasetId: dataset?.datasetId ?? '',
        storageDir: this.host.storageDir,
        roots: this.roots(),
        signal,
        onProgress,
        adoptDataset,
      }),
    );
  }

  private async pickFolder(): Promise<void> {
    const folder = await pickLocalFolder('Choose a dataset folder (images in one folder per class)');
    if (!folder) return;
    this.folders.set(folder.path, folder);
    await this.postFolders(folder.path);
  }

  /** A folder "Explain all" may run on: one offered or picked, or any folder inside the workspace (real paths). */
  private galleryFolderAllowed(folder: string): boolean {
    return this.galleryFolders.has(folder) || this.pickedGalleryFolders.has(folder) || insideWorkspace(folder);
  }

  /** The workspace folders and the folders the user picked: where the worker may list images. */
  private roots(): string[] {
    const workspace = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath);
    return [...workspace, ...this.pickedGalleryFolders];
  }

  private async pickGalleryFolder(): Promise<void> {
    const folder = await pickLocalFolder('Choose a folder of images to explain');
    if (!folder) return;
    this.pickedGalleryFolders.add(folder.path);
    this.galleryFolders.set(folder.path, folder);
    await this.postGalleryFolders(folder.path);
  }

  /** The user picks the JSON of mark boxes for the dataset; the mark check may then read it. */
  private async pickMarks(): Promise<void> {
    const dataset = this.dataset;
    if (!dataset) return this.host.post({ type: 'error', message: 'Extract the features of a dataset folder first.' });
    const picked = await vscode.window.showOpenDialog({
      title: 'Choose the marks file (JSON: { "images": { "<path>": { "mark": { "bbox": [x0, y0, x1, y1] } } } })',
      canSelectFiles: true,
      canSelectFolders: false,
      canSelectMany: false,
      defaultUri: vscode.Uri.file(dataset.folder),
      filters: { JSON: ['json'] },
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
 * Folders of workspace images, as the image strip groups them (each image's folder), and the
 * folders above those inside the workspace; each with the images under it (sub-folders included,
 * as "Explain all" lists them).
 */
async function workspaceImageFolders(): Promise<DatasetFolderView[]> {
  const found = await vscode.workspace.findFiles(IMAGE_GLOB, EXCLUDED, SEARCH_LIMIT);
  const files = found.filter((u) => u.scheme === 'file').map((u) => u.fsPath);
  const counts = new Map<string, number>();
  for (const file of files) {
    const root = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(file))?.uri.fsPath;
    for (let dir = path.dirname(file); root && (dir === root || dir.startsWith(root + path.sep)); dir = path.dirname(dir)) {
      counts.set(dir, (counts.get(dir) ?? 0) + 1);
      if (dir === root) break;
    }
  }
  return [...counts.entries()]
    .filter(([folder]) => insideWorkspace(folder))
    .map(([folder, images]) => ({ path: folder, label: vscode.workspace.asRelativePath(folder, false) || path.basename(folder), images }))
    .sort((a, b) => a.label.localeCompare(b.label));
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

/** A local folder chosen in the open dialog, with its path relative to the workspace where it lies inside. */
async function pickLocalFolder(title: string): Promise<{ path: string; label: string } | undefined> {
  const picked = await vscode.window.showOpenDialog({
    title,
    canSelectFolders: true,
    canSelectFiles: false,
    canSelectMany: false,
    defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
  });
  const folder = picked?.[0];
  if (!folder || folder.scheme !== 'file') return undefined;
  const relative = vscode.workspace.asRelativePath(folder, false);
  return { path: folder.fsPath, label: relative === folder.fsPath ? folder.fsPath : relative };
}
