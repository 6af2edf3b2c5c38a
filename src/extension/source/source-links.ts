// Links between the layers of open models and the workspace's Python training code, both ways:
// "open the source of this layer" from a view, and lenses over `self.conv2 = nn.Conv2d(...)`
// lines when an open model has layers made by them (and over `self.block4 = ConvBlock(...)` lines
// for the layers of that block). The rules are in layerSource.ts; this file
// indexes the workspace's Python files (skipping environments and dependencies) and keeps the
// index fresh as they change.
import * as fs from 'fs';
import * as vscode from 'vscode';
import type { LayerView, ModelView } from '../../protocol';
import type { ModelStore } from '../models';
import { insideWorkspace } from '../workspace-files';
import { LayerSourceLink, PythonModuleIndex, matchTracePath } from './layer-source';
import { parsePythonModules } from './python-modules';

const PYTHON_EXCLUDE = '{**/node_modules/**,**/site-packages/**,**/.*/**,**/venv/**,**/env/**,**/__pycache__/**}';
const MAX_PYTHON_FILES = 2000;
const MAX_PYTHON_BYTES = 2 * 1024 * 1024;

/** A layer as the worker describes it; the stack trace comes with exporters that record one. */
type TracedLayer = LayerView & { sourceTrace?: string };

export class SourceLinks implements vscode.Disposable {
  private index?: Promise<{ index: PythonModuleIndex; files: string[] }>;
  private readonly links = new Map<string, Promise<Map<string, LayerSourceLink>>>();
  private readonly changed = new vscode.EventEmitter<void>();
  private readonly disposables: vscode.Disposable[] = [];
  readonly onDidChange = this.changed.event;

  constructor(private readonly models: ModelStore) {
    const watcher = vscode.workspace.createFileSystemWatcher('**/*.py');
    const invalidate = () => {
      this.index = undefined;
      this.links.clear();
      this.changed.fire();
    };
    this.disposables.push(
      watcher,
      watcher.onDidChange(invalidate),
      watcher.onDidCreate(invalidate),
      watcher.onDidDelete(invalidate),
      vscode.workspace.onDidChangeWorkspaceFolders(invalidate),
      models.onDidChange((modelPath) => {
        this.links.delete(modelPath);
        this.changed.fire();
      }),
      this.changed,
    );
  }

  /** The model view with `hasSource` set on the layers whose definition was found. */
  async annotate(view: ModelView): Promise<ModelView> {
    if (!vscode.workspace.isTrusted) return view; // Restricted Mode: the workspace's code is not read
    const links = await this.linksFor(view);
    return { ...view, layers: view.layers.map((l) => ({ ...l, hasSource: links.has(l.name) })) };
  }

  async linkFor(modelPath: string, layerName: string): Promise<LayerSourceLink | undefined> {
    const view = this.models.loaded(modelPath);
    return view ? (await this.linksFor(view)).get(layerName) : undefined;
  }

  /** Opens the definition of a layer, or says why it cannot. */
  async openLayer(modelPath: string, layerName: string): Promise<LayerSourceLink | undefined> {
    if (!vscode.workspace.isTrusted) {
      void vscode.window.showWarningMessage('ConvLens: links to training code need a trusted workspace.');
      return undefined;
    }
    const link = await this.linkFor(modelPath, layerName);
    // Links come from indexed workspace files; the real-path check also keeps symlinks inside.
    if (!link || !insideWorkspace(link.file)) {
      void vscode.window.showInformationMessage(`ConvLens: no Python definition of layer ${layerName} was found in this workspace.`);
      return undefined;
    }
    const position = new vscode.Position(link.line, link.column);
    await vscode.window.showTextDocument(vscode.Uri.file(link.file), { selection: new vscode.Range(position, position), preview: true });
    return link;
  }

  /** Layers of open models defined on each line of `file`: line → [{ model, layers }]. */
  async layersIn(file: string): Promise<Map<number, { modelPath: string; layers: string[] }[]>> {
    const byLine = new Map<number, { modelPath: string; layers: string[] }[]>();
    for (const view of this.models.openModels()) {
      const links = await this.linksFor(view);
      for (const [layer, link] of links) {
        // A layer of a block has lenses on the block's instantiation and on its line in the block.
        for (const position of [link, link.definition]) {
          if (position?.file !== file) continue;
          const entries = byLine.get(position.line) ?? [];
          let entry = entries.find((e) => e.modelPath === view.path);
          if (!entry) entries.push((entry = { modelPath: view.path, layers: [] }));
          entry.layers.push(layer);
          byLine.set(position.line, entries);
        }
      }
    }
    return byLine;
  }

  private linksFor(view: ModelView): Promise<Map<string, LayerSourceLink>> {
    let links = this.links.get(view.path);
    if (!links) {
      links = this.buildLinks(view);
      this.links.set(view.path, links);
    }
    return links;
  }

  private async buildLinks(view: ModelView): Promise<Map<string, LayerSourceLink>> {
    const { index, files } = await this.pythonIndex();
    const layers = new Map<string, TracedLayer>();
    for (const layer of view.layers as TracedLayer[]) if (!layers.has(layer.name)) layers.set(layer.name, layer);
    return index.linkModel([...layers.values()], (tracePath) => matchTracePath(tracePath, files));
  }

  private pythonIndex(): Promise<{ index: PythonModuleIndex; files: string[] }> {
    this.index ??= (async () => {
      const uris = await vscode.workspace.findFiles('**/*.py', PYTHON_EXCLUDE, MAX_PYTHON_FILES);
      const files = uris
        .filter((u) => u.scheme === 'file')
        .map((u) => u.fsPath)
        .sort();
      const classes = files.flatMap((file) => {
        try {
          if (fs.statSync(file).size > MAX_PYTHON_BYTES) return [];
          return parsePythonModules(fs.readFileSync(file, 'utf8'), file);
        } catch {
          return []; // unreadable: skipped
        }
      });
      return { index: new PythonModuleIndex(classes), files };
    })();
    return this.index;
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}

/** CodeLenses over the Python lines that define layers of open models. */
export class LayerDefinitionLensProvider implements vscode.CodeLensProvider {
  readonly onDidChangeCodeLenses: vscode.Event<void>;

  constructor(
    private readonly sources: SourceLinks,
    private readonly enabled: () => boolean,
  ) {
    this.onDidChangeCodeLenses = sources.onDidChange;
  }

  async provideCodeLenses(document: vscode.TextDocument): Promise<vscode.CodeLens[]> {
    if (!this.enabled() || document.uri.scheme !== 'file') return [];
    const byLine = await this.sources.layersIn(document.uri.fsPath);
    const several = new Set([...byLine.values()].flat().map((e) => e.modelPath)).size > 1;
    const lenses: vscode.CodeLens[] = [];
    for (const [line, entries] of byLine) {
      if (line >= document.lineCount) continue;
      const range = document.lineAt(line).range;
      for (const { modelPath, layers } of entries) {
        const suffix = several ? ` (${modelPath.split(/[\\/]/).pop()})` : '';
        lenses.push(
          new vscode.CodeLens(range, {
            title: `$(pulse) Activations${suffix}`,
            command: 'convlens.layerActivations',
            arguments: [modelPath, layers],
            tooltip: `Feature maps of ${layers.join(', ')}`,
          }),
          new vscode.CodeLens(range, {
            title: `$(flame) Grad-CAM for this layer${suffix}`,
            command: 'convlens.layerGradCam',
            arguments: [modelPath, layers],
            tooltip: `Grad-CAM at ${layers.join(', ')}`,
          }),
        );
      }
    }
    return lenses;
  }
}
