// The views of a model: the model panel (a WebviewPanel opened by "Explain Model") and the
// read-only custom editor that shows a .onnx file as its overview instead of binary noise. Both
// run the same webview app ('panel' view) through an ExplainerSession, so there is one view per
// model file: "Explain Model" and opening the .onnx again reveal the view already open (a second
// editor tab of the file closes as it opens); closing a view releases its model in the worker, and closing the last view of
// the active model makes no model active (the side view then lets go of it as well).
import * as path from 'path';
import * as vscode from 'vscode';
import { ExplainerDeps, ExplainerSession } from './explainer';
import { webviewHtml, webviewOptions } from './html';
import { workspaceImages } from './workspace-files';
import { workspaceInputs } from './input-files';

export const OVERVIEW_EDITOR = 'convlens.modelOverview';
const PANEL_TYPE = 'convlens.modelPanel';
/** Workspace images offered in a new panel (more can be picked or dropped). */
const LISTED_IMAGES = 24;

interface OpenView {
  modelPath: string;
  panel: vscode.WebviewPanel;
  session: ExplainerSession;
  kind: 'panel' | 'editor';
}

export class ModelViews implements vscode.CustomReadonlyEditorProvider, vscode.Disposable {
  private readonly views = new Set<OpenView>();

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly deps: ExplainerDeps,
  ) {}

  /**
   * Opens the model panel in `column`, or reveals the model's view already open (panel or overview
   * editor); with `image`, that image is loaded and selected.
   */
  async openPanel(modelUri: vscode.Uri, image?: vscode.Uri, column: vscode.ViewColumn = vscode.ViewColumn.Active): Promise<ExplainerSession> {
    const modelPath = modelUri.fsPath;
    const existing = this.viewOf(modelPath);
    if (existing) {
      existing.panel.reveal(existing.panel.viewColumn);
      this.deps.models.setActive(modelPath);
      if (image) await existing.session.addImages([image]);
      return existing.session;
    }
    const panel = vscode.window.createWebviewPanel(PANEL_TYPE, `ConvLens: ${path.basename(modelPath)}`, column, {
      ...webviewOptions(this.extensionUri),
      retainContextWhenHidden: true,
    });
    panel.iconPath = vscode.Uri.joinPath(this.extensionUri, 'media', 'convlens.svg');
    return this.attach(panel, modelPath, 'panel', image);
  }

  /** The session showing a model, if a view of it is open. */
  sessionFor(modelPath: string): ExplainerSession | undefined {
    return this.viewOf(modelPath)?.session;
  }

  private viewOf(modelPath: string): OpenView | undefined {
    return [...this.views].find((v) => v.modelPath === modelPath);
  }

  openCustomDocument(uri: vscode.Uri): vscode.CustomDocument {
    return { uri, dispose: () => undefined };
  }

  resolveCustomEditor(document: vscode.CustomDocument, panel: vscode.WebviewPanel): void {
    const existing = this.viewOf(document.uri.fsPath);
    if (existing) {
      // A second copy would open the model again and diverge from the first: show the first.
      panel.dispose();
      existing.panel.reveal(existing.panel.viewColumn);
      this.deps.models.setActive(existing.modelPath);
      return;
    }
    panel.webview.options = webviewOptions(this.extensionUri);
    this.attach(panel, document.uri.fsPath, 'editor');
  }

  private attach(panel: vscode.WebviewPanel, modelPath: string, kind: 'panel' | 'editor', image?: vscode.Uri): ExplainerSession {
    const session = new ExplainerSession(`${kind}:${modelPath}`, panel.webview, this.deps, async (s) => {
      if (!(await s.setModel(modelPath))) return;
      // A signal or video model is offered the workspace's .npy (and WAV) files of its input's shape.
      const kind = s.inputKind;
      const shape = this.deps.models.loaded(modelPath)?.inputs[0]?.shape ?? [];
      const images = kind === 'image' ? await workspaceImages(LISTED_IMAGES, path.dirname(modelPath)) : await workspaceInputs(kind, shape, LISTED_IMAGES, path.dirname(modelPath));
      const first = image ? [image, ...images.filter((u) => u.fsPath !== image.fsPath)] : images;
      await s.addImages(first);
    });
    const view: OpenView = { modelPath, panel, session, kind };
    this.views.add(view);
    panel.webview.html = webviewHtml(panel.webview, this.extensionUri, 'panel', path.basename(modelPath));
    this.deps.models.setActive(modelPath);
    panel.onDidChangeViewState(() => {
      if (panel.active) this.deps.models.setActive(modelPath);
    });
    panel.onDidDispose(() => {
      this.views.delete(view);
      session.dispose();
      // With its last view closed the model is no longer in front of the user: the side view
      // lets go of it too, so the worker can release it.
      const stillShown = [...this.views].some((v) => v.modelPath === modelPath);
      if (!stillShown && this.deps.models.active === modelPath) this.deps.models.setActive(undefined);
    });
    return session;
  }

  dispose(): void {
    for (const view of [...this.views]) view.panel.dispose();
  }
}
