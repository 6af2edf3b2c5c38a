// The extension's settings (contributes.configuration in package.json), read with their defaults.
import * as vscode from 'vscode';
import { DEFAULT_ACTIVATION_LIMIT_MB } from '../core/activation-memory';
import type { PreprocessOverrides } from '../core/preprocess';
import type { ProviderSetting } from '../core/onnx/session';

export interface Settings {
  executionProvider: ProviderSetting;
  /** Threads per onnxruntime op in the compute worker; 0: every core. */
  computeThreads: number;
  codeLensEnabled: boolean;
  defaultMethod: string;
  colormap: string;
  overlayOpacity: number;
  topK: number;
  maxImagePixels: number;
  /** Most MiB of layer activations the worker holds at once. */
  maxActivationMemoryMB: number;
  /** Preprocessing fields that win over a model's sidecar and metadata; validated by the core. */
  preprocessing?: PreprocessOverrides;
}

const PROVIDERS: ProviderSetting[] = ['auto', 'cuda', 'cpu'];
/** The setting's maximum in package.json: more threads than any workstation has cores. */
const MAX_COMPUTE_THREADS = 256;

export function readSettings(): Settings {
  const c = vscode.workspace.getConfiguration('convlens');
  const provider = c.get<string>('executionProvider', 'auto');
  return {
    executionProvider: PROVIDERS.includes(provider as ProviderSetting) ? (provider as ProviderSetting) : 'auto',
    computeThreads: Math.round(clamp(c.get<number>('computeThreads', 0), 0, MAX_COMPUTE_THREADS)),
    codeLensEnabled: c.get<boolean>('codeLens.enabled', true),
    defaultMethod: c.get<string>('defaultMethod', 'gradcam'),
    colormap: c.get<string>('colormap', 'viridis'),
    overlayOpacity: clamp(c.get<number>('overlayOpacity', 0.5), 0, 1),
    topK: Math.round(clamp(c.get<number>('topK', 5), 1, 100)),
    maxImagePixels: Math.round(clamp(c.get<number>('maxImagePixels', 40_000_000), 1, 1e10)),
    maxActivationMemoryMB: clamp(c.get<number>('maxActivationMemoryMB', DEFAULT_ACTIVATION_LIMIT_MB), 0.1, 1e6),
    preprocessing: nonEmpty(c.get<PreprocessOverrides>('preprocessing')),
  };
}

/**
 * The folder a labels file named in the `preprocessing` setting must be inside, for a model: its
 * workspace folder, else the first one, so a workspace's settings.json cannot reach files beyond
 * the workspace. Undefined without a workspace: the core then keeps such files to the model's folder.
 */
export function settingsFolderFor(modelPath: string): string | undefined {
  const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(modelPath)) ?? vscode.workspace.workspaceFolders?.[0];
  return folder?.uri.fsPath;
}

function nonEmpty<T extends object>(value: T | undefined): T | undefined {
  return value && typeof value === 'object' && Object.keys(value).length > 0 ? value : undefined;
}

function clamp(value: number, lo: number, hi: number): number {
  return Number.isFinite(value) ? Math.min(hi, Math.max(lo, value)) : lo;
}
