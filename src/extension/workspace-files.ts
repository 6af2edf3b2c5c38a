// Which files the extension may open on its own: those the user chose in a dialog, and those
// inside a workspace folder (checked on real paths, so a symlink cannot lead outside). Paths that
// come from webviews, from model metadata or from code are checked here before use.
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { pickImages } from './image-list';

export const IMAGE_GLOB = '**/*.{png,jpg,jpeg,PNG,JPG,JPEG}';
const EXCLUDED = '{**/node_modules/**,**/.*/**,**/out/**,**/dist/**}';

function realPath(file: string): string | undefined {
  try {
    return fs.realpathSync(file);
  } catch {
    return undefined;
  }
}

/** Whether the file exists and its real path lies inside a workspace folder's real path. */
export function insideWorkspace(file: string): boolean {
  const real = realPath(file);
  if (!real) return false;
  return (vscode.workspace.workspaceFolders ?? []).some((folder) => {
    const root = folder.uri.scheme === 'file' ? realPath(folder.uri.fsPath) : undefined;
    if (!root) return false;
    const relative = path.relative(root, real);
    return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
  });
}

/** Up to `limit` images of the workspace: see pickImages. */
export async function workspaceImages(limit: number, near?: string): Promise<vscode.Uri[]> {
  const found = await vscode.workspace.findFiles(IMAGE_GLOB, EXCLUDED, 2000);
  return pickImages(
    found.filter((u) => u.scheme === 'file').map((u) => u.fsPath),
    limit,
    near,
  ).map((f) => vscode.Uri.file(f));
}

/** The folder of a file relative to its workspace folder (as thumbnails name it), else its parent's name. */
export function workspaceFolderOf(file: string): string {
  const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(file));
  const relative = folder ? path.relative(folder.uri.fsPath, path.dirname(file)) : path.basename(path.dirname(file));
  return relative.split(path.sep).join('/') || '.';
}

/**
 * The model file a string literal in code names: relative to the code's file, then to its
 * workspace folder (absolute paths as they are). Only existing .onnx files inside the workspace
 * count; for any other the user chooses the file.
 */
export function resolveModelLiteral(literal: string, document: vscode.Uri): string | undefined {
  if (!literal.toLowerCase().endsWith('.onnx')) return undefined;
  const folder = vscode.workspace.getWorkspaceFolder(document)?.uri.fsPath;
  const candidates = path.isAbsolute(literal) ? [literal] : [path.resolve(path.dirname(document.fsPath), literal), ...(folder ? [path.resolve(folder, literal)] : [])];
  return candidates.find((c) => insideWorkspace(c) && fs.statSync(c).isFile());
}

export async function pickModelFile(title = 'Choose an ONNX model'): Promise<vscode.Uri | undefined> {
  const picked = await vscode.window.showOpenDialog({
    title,
    canSelectMany: false,
    filters: { 'ONNX models': ['onnx'] },
    defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
  });
  return picked?.[0];
}
