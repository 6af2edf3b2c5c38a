// Writing command results: JSON with --json, aligned text otherwise, and files.
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic } from '../core/files';
import { formatNpy } from '../core/npy';
import { Tensor } from '../core/tensor';

// Text from a model file (names, producer, labels, metadata) is untrusted: written raw to a
// terminal, an ESC sequence can set the clipboard (OSC 52), retitle the window or clear the
// screen, CR/LF can forge lines and a bidi override can reverse what a name seems to say.
// C0 controls, DEL, C1 controls, line/paragraph separators and bidi embeddings, overrides and
// isolates are the characters that act rather than show.
const ACTING_CHARACTERS = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;
// The same except the newline and tab the CLI's own formatting writes.
const ACTING_EXCEPT_LAYOUT = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;
// Beyond what JSON.stringify escapes (U+0000–U+001F): valid JSON escapes for the rest.
const ACTING_AFTER_JSON = /[\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

function visibleEscape(c: string): string {
  const code = c.charCodeAt(0);
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** A model-supplied text for one line of terminal output: every acting character as a visible escape (`\x1b`, `\u202e`). */
export function terminalText(text: string): string {
  return text.replace(ACTING_CHARACTERS, visibleEscape);
}

/**
 * The last guard at the CLI's output layer: whatever a command prints, stdout and stderr never
 * carry an acting character other than the CLI's own newlines and tabs. Names are escaped where
 * they are printed (terminalText, which also escapes a newline inside a name); this catches any
 * text that reaches a stream otherwise.
 */
export function guardTerminalStreams(): void {
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) =>
      write(typeof chunk === 'string' ? chunk.replace(ACTING_EXCEPT_LAYOUT, visibleEscape) : chunk, ...rest)) as typeof stream.write;
  }
}

/** JSON whose strings hold no acting character raw (escaped as \u009b etc., so it stays valid JSON with the same values). */
export function printJson(value: unknown): void {
  const json = JSON.stringify(value, null, 2).replace(ACTING_AFTER_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  process.stdout.write(json + '\n');
}

/** Aligned columns; string cells are terminalText-escaped (they are mostly names from the model). */
export function printTable(table: (string | number)[][], indent = '  '): void {
  const rows = table.map((row) => row.map((cell) => (typeof cell === 'string' ? terminalText(cell) : cell)));
  // A loop, not Math.max(...column): a 100,000-layer model overflows the argument list.
  const widths = rows[0].map(() => 0);
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i], String(cell).length)));
  for (const row of rows) {
    process.stdout.write(
      indent +
        row
          .map((cell, i) => (typeof cell === 'number' ? String(cell).padStart(widths[i]) : String(cell).padEnd(widths[i])))
          .join('  ')
          .trimEnd() +
        '\n',
    );
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
