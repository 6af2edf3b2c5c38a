// The status bar item: the model in use and where it runs ("$(chip) shapes.onnx · CPU"), with
// the reason for the execution provider (a CUDA fallback says why) in its tooltip. Clicking it
// chooses the execution provider.
import * as path from 'path';
import * as vscode from 'vscode';
import type { ModelStore } from './models';

export class ModelStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('convlens.model', vscode.StatusBarAlignment.Right, 100);
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly models: ModelStore) {
    this.item.name = 'ConvLens Model';
    this.item.command = 'convlens.selectExecutionProvider';
    this.disposables.push(models.onDidChangeActive(() => this.render()), models.onDidChange(() => this.render()), this.item);
    this.render();
  }

  /** The text shown now (tests read it). */
  get text(): string {
    return this.item.text;
  }

  private render(): void {
    const modelPath = this.models.active;
    if (!modelPath) {
      this.item.hide();
      return;
    }
    const view = this.models.loaded(modelPath);
    const provider = view ? view.provider.name.toUpperCase() : '…';
    this.item.text = `$(chip) ${path.basename(modelPath)} · ${provider}`;
    const tooltip = new vscode.MarkdownString();
    tooltip.appendText(`ConvLens: ${modelPath}\n\n`);
    tooltip.appendText(view ? `Runs on the ${provider}: ${view.provider.reason}` : 'Opening the model…');
    tooltip.appendMarkdown('\n\nClick to choose the execution provider.');
    this.item.tooltip = tooltip;
    this.item.show();
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
