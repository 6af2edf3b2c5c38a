// "Install CUDA Provider Libraries": onnxruntime-node's npm package carries the CPU runtime only;
// its own install script (node_modules/onnxruntime-node/script/install.js) downloads the CUDA 12
// execution provider libraries from NuGet when ONNXRUNTIME_NODE_INSTALL=cuda12 is set. This runs
// that script with its output in a terminal (on the extension host's own Node, so no Node install
// is needed) and restarts the compute worker afterwards so the new libraries load.
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';

const EXPLANATION =
  'ConvLens runs models with onnxruntime-node, which ships without its CUDA libraries. This downloads the CUDA 12 ' +
  'execution provider libraries (several hundred MB, from NuGet) into the extension folder. It needs network access, ' +
  'an NVIDIA GPU with its driver, and the CUDA 12 and cuDNN 9 runtime libraries installed on this machine.';

export async function installCudaProvider(extensionUri: vscode.Uri, restartWorker: () => Promise<void>): Promise<void> {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    void vscode.window.showInformationMessage(
      `ConvLens: onnxruntime-node's installer fetches CUDA libraries for Linux x64 only; this machine is ${process.platform}/${process.arch}.`,
    );
    return;
  }
  const packageDir = path.join(extensionUri.fsPath, 'node_modules', 'onnxruntime-node');
  const script = path.join(packageDir, 'script', 'install.js');
  if (!fs.existsSync(script)) {
    void vscode.window.showErrorMessage(`ConvLens: onnxruntime-node's install script is missing (${script}); reinstall the extension.`);
    return;
  }
  const choice = await vscode.window.showInformationMessage('Install the CUDA execution provider?', { modal: true, detail: EXPLANATION }, 'Install');
  if (choice !== 'Install') return;
  const terminal = vscode.window.createTerminal({ name: 'ConvLens: CUDA libraries', pty: new InstallTerminal(script, packageDir, restartWorker) });
  terminal.show();
}

/** A terminal that shows the install script's output and acts on its exit code. */
class InstallTerminal implements vscode.Pseudoterminal {
  private readonly output = new vscode.EventEmitter<string>();
  readonly onDidWrite = this.output.event;
  private child?: ChildProcess;

  constructor(
    private readonly script: string,
    private readonly cwd: string,
    private readonly restartWorker: () => Promise<void>,
  ) {}

  open(): void {
    this.write(`Downloading the CUDA 12 execution provider libraries for onnxruntime-node (ONNXRUNTIME_NODE_INSTALL=cuda12)…\n`);
    // The extension host's own runtime runs the script as Node (ELECTRON_RUN_AS_NODE under Electron).
    const child = spawn(process.execPath, [this.script], {
      cwd: this.cwd,
      env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'cuda12', ELECTRON_RUN_AS_NODE: '1' },
    });
    this.child = child;
    child.stdout.on('data', (d: Buffer) => this.write(d.toString()));
    child.stderr.on('data', (d: Buffer) => this.write(d.toString()));
    child.on('error', (err) => this.write(`\nCould not start the installer: ${err.message}\n`));
    child.on('close', (code) => void this.finished(code));
  }

  close(): void {
    this.child?.kill();
  }

  private async finished(code: number | null): Promise<void> {
    if (code === 0) {
      this.write('\nDone. Restarting the ConvLens compute worker so the libraries load…\n');
      await this.restartWorker();
      void vscode.window.showInformationMessage(
        'ConvLens: CUDA libraries installed and models reopened. The setting convlens.executionProvider ("auto" or "cuda") decides whether they are used.',
      );
    } else {
      this.write(`\nThe installer stopped with exit code ${code}. ConvLens keeps running on the CPU.\n`);
      void vscode.window.showErrorMessage(`ConvLens: the CUDA library download failed (exit code ${code}); the terminal "ConvLens: CUDA libraries" says why.`);
    }
  }

  private write(text: string): void {
    this.output.fire(text.replace(/\r?\n/g, '\r\n'));
  }
}
