// Writing command results: JSON with --json, aligned text otherwise, and files.
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic } from '../core/files';
import { formatNpy } from '../core/npy';
import { Tensor } from '../core/tensor';

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

export function printTable(rows: (string | number)[][], indent = '  '): void {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  for (const row of rows) {
    process.stdout.write(indent + row.map((cell, i) => (typeof cell === 'number' ? String(cell).padStart(widths[i]) : String(cell).padEnd(widths[i]))).join('  ').trimEnd() + '\n');
  }
}

export function writeFile(file: string, bytes: Uint8Array): string {
  const resolved = path.resolve(file);
  fs.mkdirSync(path.dirname(resolved), { recursive: true });
  writeFileAtomic(resolved, bytes);
  return resolved;
}

export function writeNpy(file: string, tensor: Tensor): string {
  return writeFile(file, formatNpy(tensor));
}

export function fixed(n: number, digits = 4): string {
  return Number.isFinite(n) ? n.toFixed(digits) : String(n);
}
