// "$(telescope) Explain m.onnx" over the calls that load or export a model in Python and
// JavaScript/TypeScript code (matching in inferenceCalls.ts, on tokens). The path comes from the
// call's string literal, resolved relative to the file, then to its workspace folder; a call
// without a literal path, or whose file does not exist, asks for the model with a file picker.
import * as path from 'path';
import * as vscode from 'vscode';
import { resolveModelLiteral } from '../workspace-files';
import { CodeLanguage, findInferenceCalls } from './inference-calls';

export const INFERENCE_LENS_LANGUAGES: Record<string, CodeLanguage> = {
  python: 'python',
  javascript: 'javascript',
  javascriptreact: 'javascript',
  typescript: 'javascript',
  typescriptreact: 'javascript',
};

const MAX_DOCUMENT_CHARS = 2_000_000;

export class InferenceLensProvider implements vscode.CodeLensProvider {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;

  constructor(private readonly enabled: () => boolean) {}

  /** Lenses are recomputed when the setting changes. */
  refresh(): void {
    this.changed.fire();
  }

  provideCodeLenses(document: vscode.TextDocument): vscode.CodeLens[] {
    const language = INFERENCE_LENS_LANGUAGES[document.languageId];
    if (!language || !this.enabled()) return [];
    const text = document.getText();
    if (text.length > MAX_DOCUMENT_CHARS) return [];
    return findInferenceCalls(text, language).map((call) => {
      const position = new vscode.Position(call.line, call.column);
      const resolved = call.modelPath !== undefined && document.uri.scheme === 'file' ? resolveModelLiteral(call.modelPath, document.uri) : undefined;
      const label = call.modelPath !== undefined ? path.basename(call.modelPath) : 'model…';
      return new vscode.CodeLens(new vscode.Range(position, position), {
        title: `$(telescope) Explain ${label}`,
        tooltip: resolved ? `Open ${resolved} in ConvLens` : 'Choose the model file to open in ConvLens',
        command: 'convlens.explainModel',
        // Beside the code: the user reads the call and the model together.
        arguments: [resolved ? vscode.Uri.file(resolved) : undefined, vscode.ViewColumn.Beside],
      });
    });
  }

  dispose(): void {
    this.changed.dispose();
  }
}
