// The side-panel attribution viewer (view convlens.attributionView in the ConvLens activity-bar
// container). It follows the user: the active model (last opened or looked-at model view, or the
// .onnx in the active overview editor) and the image in front of them (an image open in VS
// Code's image preview, or one chosen with "Explain Image with Current Model"), and shows the
// prediction with an explanation by the method last chosen in it (the setting's default first).
// Its header names the model it uses, and its title bar offers a picker of the open models.
import * as path from 'path';
import * as vscode from 'vscode';
import { ExplainerDeps, ExplainerSession } from './explainer';
import { webviewHtml, webviewOptions } from './html';
import { OVERVIEW_EDITOR } from './model-views';

const IMAGE_PREVIEW = 'imagePreview.previewEditor';
const IMAGE_EXTENSIONS = /\.(png|jpe?g)$/i;

export const ATTRIBUTION_VIEW = 'convlens.attributionView';

/** The image and model in front of the user, from the active editor tab. */
export class FocusTracker implements vscode.Disposable {
  private image?: vscode.Uri;
  private readonly changed = new vscode.EventEmitter<void>();
  private readonly disposables: vscode.Disposable[] = [];
  readonly onDidChange = this.changed.event;

  constructor(private readonly setActiveModel: (modelPath: string) => void) {
    this.disposables.push(
      vscode.window.tabGroups.onDidChangeTabs(() => this.readActiveTab()),
      vscode.window.tabGroups.onDidChangeTabGroups(() => this.readActiveTab()),
      this.changed,
    );
    this.readActiveTab();
  }

  get activeImage(): vscode.Uri | undefined {
    return this.image;
  }

  /** An image chosen explicitly (explorer command). */
  showImage(uri: vscode.Uri): void {
    this.image = uri;
    this.changed.fire();
  }

  private readActiveTab(): void {
    const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
    if (!(input instanceof vscode.TabInputCustom) || input.uri.scheme !== 'file') return;
    if (input.viewType === IMAGE_PREVIEW && IMAGE_EXTENSIONS.test(input.uri.fsPath)) {
      if (input.uri.toString() === this.image?.toString()) return;
      this.image = input.uri;
      this.changed.fire();
    } else if (input.viewType === OVERVIEW_EDITOR) {
      this.setActiveModel(input.uri.fsPath);
    }
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}

export class AttributionViewProvider implements vscode.WebviewViewProvider, vscode.Disposable {
  private session?: ExplainerSession;
  private view?: vscode.WebviewView;
  private readonly disposables: vscode.Disposable[] = [];
  private shown?: { model?: string; image?: string };

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly deps: ExplainerDeps,
    private readonly focus: FocusTracker,
  ) {
    this.disposables.push(
      deps.models.onDidChangeActive(() => void this.follow()),
      focus.onDidChange(() => void this.follow()),
    );
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    view.webview.options = webviewOptions(this.extensionUri);
    this.session?.dispose();
    const session = new ExplainerSession('side', view.webview, this.deps, () => {
      this.shown = undefined;
      return this.follow();
    });
    this.session = session;
    view.webview.html = webviewHtml(view.webview, this.extensionUri, 'side', 'ConvLens');
    this.view = view;
    this.nameModel();
    view.onDidDispose(() => {
      session.dispose();
      if (this.session === session) this.session = undefined;
      if (this.view === view) this.view = undefined;
    });
  }

  /** What the view's header says beside its title: the model it explains with. */
  get description(): string | undefined {
    return this.view?.description;
  }

  private nameModel(): void {
    if (!this.view) return;
    const model = this.deps.models.active;
    this.view.description = model ? path.basename(model) : 'no model';
  }

  /** Brings the view to the active model and image, explaining the image when either changed. */
  private async follow(): Promise<void> {
    const session = this.session;
    if (!session) return;
    this.nameModel();
    const model = this.deps.models.active;
    const image = this.focus.activeImage;
    const modelChanged = this.shown?.model !== model;
    if (!modelChanged && this.shown?.image === image?.toString()) return;
    this.shown = { model, image: image?.toString() };
    if (modelChanged && !(await session.setModel(model))) return;
    if (!model || !image || session.currentModel !== model) return;
    const [loaded] = await session.addImages([image]);
    if (loaded && session.selectedImage?.view.id === loaded.id) await session.explainFromHost(session.preferredMethod, 'auto', 'window');
  }

  dispose(): void {
    this.session?.dispose();
    for (const d of this.disposables) d.dispose();
  }
}
