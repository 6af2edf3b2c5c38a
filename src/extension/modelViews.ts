// The views of a model: the model panel (a WebviewPanel opened by "Explain Model", one per model
// file, revealed when opened again) and the read-only custom editor that shows a .onnx file as
// its overview instead of binary noise. Both run the same webview app ('panel' view) through an
// ExplainerSession; closing a view releases its model in the worker, and closing the last view of
// the active model makes no model active (the side view then lets go of it as well).
import * as path from 'path';
import * as vscode from 'vscode';
import { ExplainerDeps, ExplainerSession } from './explainer';
import { webviewHtml, webviewOptions } from './html';
import { workspaceImages } from './workspaceFiles';

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

  constructor(private readonly extensionUri: vscode.Uri, private readonly deps: ExplainerDeps) {}

  /** Opens (or reveals) the model panel; with `image`, that image is loaded and selected. */
  async openPanel(modelUri: vscode.Uri, image?: vscode.Uri): Promise<ExplainerSession> {
    const modelPath = modelUri.fsPath;
    const existing = [...this.views].find((v) => v.kind === 'panel' && v.modelPath === modelPath);
    if (existing) {
      existing.panel.reveal();
      this.deps.models.setActive(modelPath);
      if (image) await existing.session.addImages([image]);
      return existing.session;
    }
    const panel = vscode.window.createWebviewPanel(PANEL_TYPE, `ConvLens: ${path.basename(modelPath)}`, vscode.ViewColumn.Active, {
      ...webviewOptions(this.extensionUri),
      retainContextWhenHidden: true,
    });
    panel.iconPath = vscode.Uri.joinPath(this.extensionUri, 'media', 'convlens.svg');
    return this.attach(panel, modelPath, 'panel', image);
  }

  /** The session showing a model: its panel, else an overview editor of it. */
  sessionFor(modelPath: string): ExplainerSession | undefined {
    const views = [...this.views].filter((v) => v.modelPath === modelPath);
    return (views.find((v) => v.kind === 'panel') ?? views[0])?.session;
  }

  openCustomDocument(uri: vscode.Uri): vscode.CustomDocument {
    return { uri, dispose: () => undefined };
  }

  resolveCustomEditor(document: vscode.CustomDocument, panel: vscode.WebviewPanel): void {
    panel.webview.options = webviewOptions(this.extensionUri);
    this.attach(panel, document.uri.fsPath, 'editor');
  }

  private attach(panel: vscode.WebviewPanel, modelPath: string, kind: 'panel' | 'editor', image?: vscode.Uri): ExplainerSession {
    const session = new ExplainerSession(`${kind}:${modelPath}`, panel.webview, this.deps, async (s) => {
      if (!(await s.setModel(modelPath))) return;
      const images = await workspaceImages(LISTED_IMAGES, path.dirname(modelPath));
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
