// ConvLens's VS Code entry: the compute worker client, the model views (panel, overview editor,
// side view), the status bar, the lenses and the commands. Models run on a worker process
// (dist/worker.js) so the extension host never blocks on inference.
//
// Restricted Mode (untrusted workspace): ConvLens declares limited support. Opening a .onnx in the
// overview editor and explaining models and images work (a model is data run by onnxruntime, no
// workspace code runs); the lenses on Python/JS code and the links to training code are off,
// because they read and act on the workspace's code; installing the CUDA libraries is off.
import * as path from 'path';
import * as vscode from 'vscode';
import { ComputeClient } from '../compute/client';
import type { ProviderSetting } from '../core/onnx/session';
import { ATTRIBUTION_VIEW, AttributionViewProvider, FocusTracker } from './attribution-view';
import { INFERENCE_LENS_LANGUAGES, InferenceLensProvider } from './codelens/inference-lens';
import { installCudaProvider } from './cuda';
import type { ExplainerDeps } from './explainer';
import { methodCatalog } from './methods';
import { ModelStore } from './models';
import { ModelViews, OVERVIEW_EDITOR } from './model-views';
import { readSettings } from './settings';
import { LayerDefinitionLensProvider, SourceLinks } from './source/source-links';
import { ModelStatusBar } from './status-bar';
import { ConvLensTestApi, TestHooks } from './test-hooks';
import { pickModelFile } from './workspace-files';

export interface ConvLensApi {
  /** Present only when the extension host runs with CONVLENS_TEST_HOOKS=1 (end-to-end tests). */
  testing?: ConvLensTestApi;
}

let client: ComputeClient | undefined;

export function activate(context: vscode.ExtensionContext): ConvLensApi {
  const compute = new ComputeClient(context.asAbsolutePath(path.join('dist', 'worker.js')));
  client = compute;
  const hooks = new TestHooks(process.env.CONVLENS_TEST_HOOKS === '1');
  // The end-to-end tests shorten how long an idle worker is kept, to see it stop.
  const workerIdleMs = hooks.enabled && process.env.CONVLENS_WORKER_IDLE_MS ? Number(process.env.CONVLENS_WORKER_IDLE_MS) : undefined;
  const models = new ModelStore(compute, () => readSettings(), workerIdleMs);
  const sources = new SourceLinks(models);
  const deps: ExplainerDeps = {
    client: compute,
    models,
    sources,
    hooks,
    settings: () => readSettings(),
    methods: methodCatalog(compute),
    storageDir: (context.storageUri ?? context.globalStorageUri).fsPath,
  };
  const views = new ModelViews(context.extensionUri, deps);
  const focus = new FocusTracker((modelPath) => models.setActive(modelPath));
  const side = new AttributionViewProvider(context.extensionUri, deps, focus);
  const trusted = () => vscode.workspace.isTrusted;
  const lensesOn = () => trusted() && readSettings().codeLensEnabled;
  const inferenceLenses = new InferenceLensProvider(lensesOn);
  const definitionLenses = new LayerDefinitionLensProvider(sources, lensesOn);

  const restartWorker = async () => {
    await compute.dispose();
    await models.reopenAll();
  };

  const statusBar = new ModelStatusBar(models);
  context.subscriptions.push(
    models,
    sources,
    views,
    focus,
    side,
    inferenceLenses,
    statusBar,
    vscode.window.registerCustomEditorProvider(OVERVIEW_EDITOR, views, { webviewOptions: { retainContextWhenHidden: true } }),
    vscode.window.registerWebviewViewProvider(ATTRIBUTION_VIEW, side, { webviewOptions: { retainContextWhenHidden: true } }),
    vscode.languages.registerCodeLensProvider(
      Object.keys(INFERENCE_LENS_LANGUAGES).map((language) => ({ language, scheme: 'file' })),
      inferenceLenses,
    ),
    vscode.languages.registerCodeLensProvider({ language: 'python', scheme: 'file' }, definitionLenses),
    vscode.workspace.onDidGrantWorkspaceTrust(() => inferenceLenses.refresh()),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (['executionProvider', 'computeThreads', 'preprocessing', 'maxActivationMemoryMB', 'maxImagePixels'].some((key) => e.affectsConfiguration(`convlens.${key}`)))
        void models.reopenAll();
      if (e.affectsConfiguration('convlens.codeLens.enabled')) inferenceLenses.refresh();
    }),

    // From a lens, the second argument is the column (Beside); from the explorer, the selection.
    vscode.commands.registerCommand('convlens.explainModel', async (uri?: vscode.Uri, column?: unknown) => {
      const model = uri && uri.fsPath.toLowerCase().endsWith('.onnx') ? uri : await pickModelFile();
      if (model) await views.openPanel(model, undefined, typeof column === 'number' ? column : undefined);
    }),
    vscode.commands.registerCommand('convlens.explainImage', async (uri?: vscode.Uri) => {
      const image = uri ?? (await pickImageFile());
      if (!image) return;
      const modelPath = models.active ?? (await pickModelFile('Choose the model to explain the image with'))?.fsPath;
      if (!modelPath) return;
      focus.showImage(image);
      // A new panel explains the image it opens on by itself (its first run); one already open
      // has answered for another image, so the host explains this one there (announced to the
      // view, which lets it stand), once the image loaded and is the one selected.
      const open = views.sessionFor(modelPath);
      const session = await views.openPanel(vscode.Uri.file(modelPath), image);
      if (open && session.selectedImage?.uri?.toString() === image.toString()) await session.explainFromHost(session.preferredMethod, 'auto', 'notification');
    }),
    vscode.commands.registerCommand('convlens.selectExecutionProvider', selectExecutionProvider),
    vscode.commands.registerCommand('convlens.chooseModel', () => chooseModel(models)),
    // In Restricted Mode the commands below only warn; they do not wait for the warning's dismissal.
    vscode.commands.registerCommand('convlens.installCudaProvider', () => {
      if (!trusted()) return void vscode.window.showWarningMessage('ConvLens: installing the CUDA libraries needs a trusted workspace.');
      return installCudaProvider(context.extensionUri, restartWorker);
    }),
    vscode.commands.registerCommand('convlens.openLayerSource', async (modelPath?: string, layer?: string) => {
      if (!trusted()) return void vscode.window.showWarningMessage('ConvLens: links to training code need a trusted workspace.');
      const target = modelPath && layer ? { modelPath, layer } : await pickLayer(models, sources);
      if (target) await sources.openLayer(target.modelPath, target.layer);
    }),
    vscode.commands.registerCommand('convlens.layerActivations', async (modelPath: string, layers: string[]) => {
      const layer = await chooseLayer(layers);
      if (layer) await (await views.openPanel(vscode.Uri.file(modelPath))).activationsFromHost(layer);
    }),
    vscode.commands.registerCommand('convlens.layerGradCam', async (modelPath: string, layers: string[]) => {
      const layer = await chooseLayer(layers);
      if (layer) await (await views.openPanel(vscode.Uri.file(modelPath))).explainFromHost('gradcam', layer, 'notification');
    }),
  );
  // Asking a stopped worker would start it: report it stopped instead.
  const worker = async () => (compute.running ? { pid: compute.pid, ...(await compute.call('status', {})) } : undefined);
  const shown = () => ({ activeModel: models.active, statusBar: statusBar.shown, sideViewDescription: side.description });
  return hooks.enabled ? { testing: hooks.api(worker, shown) } : {};
}

export async function deactivate(): Promise<void> {
  await client?.dispose();
  client = undefined;
}

async function pickImageFile(): Promise<vscode.Uri | undefined> {
  const picked = await vscode.window.showOpenDialog({
    title: 'Choose an image (or a .npy or WAV input) to explain',
    canSelectMany: false,
    filters: { Images: ['png', 'jpg', 'jpeg'], 'Tensors and signals (.npy, WAV)': ['npy', 'wav'] },
  });
  return picked?.[0];
}

async function selectExecutionProvider(): Promise<void> {
  const current = readSettings().executionProvider;
  const items: (vscode.QuickPickItem & { value: ProviderSetting })[] = [
    { value: 'auto', label: 'Automatic', description: 'CUDA when it loads, else the CPU' },
    { value: 'cuda', label: 'CUDA', description: 'NVIDIA GPU; fails with the reason when CUDA cannot load' },
    { value: 'cpu', label: 'CPU', description: 'always the CPU' },
  ];
  for (const item of items) if (item.value === current) item.detail = 'current setting';
  const picked = await vscode.window.showQuickPick(items, { title: 'ConvLens: execution provider', placeHolder: 'Where models run' });
  if (picked) await vscode.workspace.getConfiguration('convlens').update('executionProvider', picked.value, vscode.ConfigurationTarget.Global);
}

/** The current model (the side view's and the status bar's), chosen among the open ones. */
async function chooseModel(models: ModelStore): Promise<void> {
  const open = models.openModels();
  if (open.length === 0) {
    void vscode.window.showInformationMessage('ConvLens: no model is open; open one with "ConvLens: Explain Model".');
    return;
  }
  const items = open.map((view) => ({
    label: view.name,
    description: vscode.workspace.asRelativePath(view.path),
    detail: view.path === models.active ? 'current model' : undefined,
    modelPath: view.path,
  }));
  const picked = await vscode.window.showQuickPick(items, { title: 'ConvLens: choose the current model', placeHolder: 'The model the side view and the status bar use' });
  if (picked) models.setActive(picked.modelPath);
}

async function chooseLayer(layers: string[]): Promise<string | undefined> {
  if (layers.length <= 1) return layers[0];
  return vscode.window.showQuickPick(layers, { title: 'ConvLens: this code defines several layers', placeHolder: 'Choose the layer' });
}

async function pickLayer(models: ModelStore, sources: SourceLinks): Promise<{ modelPath: string; layer: string } | undefined> {
  const modelPath = models.active;
  const view = modelPath ? models.loaded(modelPath) : undefined;
  if (!modelPath || !view) {
    void vscode.window.showInformationMessage('ConvLens: open a model first ("ConvLens: Explain Model").');
    return undefined;
  }
  const annotated = await sources.annotate(view);
  const names = [...new Set(annotated.layers.filter((l) => l.hasSource).map((l) => l.name))];
  if (names.length === 0) {
    void vscode.window.showInformationMessage(`ConvLens: no layer of ${view.name} was found in this workspace's Python code.`);
    return undefined;
  }
  const layer = await vscode.window.showQuickPick(
    names.map((name) => ({ label: annotated.layers.find((l) => l.name === name)?.scope ?? name, description: name, name })),
    {
      title: `ConvLens: open the source of a layer of ${view.name}`,
    },
  );
  return layer ? { modelPath, layer: layer.name } : undefined;
}
