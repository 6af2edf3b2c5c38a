// The status bar item: the model in use and where it runs ("$(chip) shapes.onnx · CPU"), with
// the reason for the execution provider (a CUDA fallback says why) in its tooltip. Clicking it
// chooses the execution provider. Screen readers get a plain sentence, not the codicon syntax.
import * as path from 'path';
import * as vscode from 'vscode';
import type { ModelStore } from './models';

export class ModelStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('convlens.model', vscode.StatusBarAlignment.Right, 100);
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly models: ModelStore) {
    this.item.name = 'ConvLens Model';
    this.item.command = 'convlens.selectExecutionProvider';
    this.disposables.push(
      models.onDidChangeActive(() => this.render()),
      models.onDidChange(() => this.render()),
      this.item,
    );
    this.render();
  }

  /** The text shown now and what a screen reader says (tests read them); undefined while hidden. */
  get shown(): { text: string; accessibleName?: string } | undefined {
    return this.models.active ? { text: this.item.text, accessibleName: this.item.accessibilityInformation?.label } : undefined;
  }

  private render(): void {
    const modelPath = this.models.active;
    if (!modelPath) {
      this.item.hide();
      return;
    }
    const view = this.models.loaded(modelPath);
    const provider = view ? view.provider.name.toUpperCase() : '…';
    const name = path.basename(modelPath);
    this.item.text = `$(chip) ${name} · ${provider}`;
    const where = view ? `runs on the ${provider}` : 'is opening';
    this.item.accessibilityInformation = { label: `ConvLens model ${name} ${where}. Choose the execution provider.`, role: 'button' };
    const tooltip = new vscode.MarkdownString();
    tooltip.appendText(`ConvLens: ${modelPath}\n\n`);
    tooltip.appendText(view ? `Runs on the ${provider}, ${view.provider.threads} threads per op: ${view.provider.reason}` : 'Opening the model…');
    tooltip.appendMarkdown('\n\nClick to choose the execution provider.');
    this.item.tooltip = tooltip;
    this.item.show();
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
