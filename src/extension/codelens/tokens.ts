// What the Python and JavaScript/TypeScript tokenizers produce: tokens with their text, offsets
// and 0-based line/column, and string literals with their decoded value.

export type TokenKind = 'name' | 'number' | 'string' | 'template' | 'regex' | 'op' | 'newline';

export interface Token {
  kind: TokenKind;
  /** The token's source text (a string token's text includes its prefix and quotes). */
  text: string;
  start: number;
  end: number;
  line: number;
  column: number;
  /** A string literal's value with escapes resolved; undefined for interpolated strings (f-strings, templates with ${}). */
  value?: string;
  interpolated?: boolean;
  unterminated?: boolean;
}

/** Offsets at which each line starts. */
export function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') starts.push(i + 1);
  return starts;
}

export function positionOf(starts: number[], offset: number): { line: number; column: number } {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo, column: offset - starts[lo] };
}

/** Whether a number literal starts at `i` (a digit, or a dot before one). */
export function startsNumber(text: string, i: number): boolean {
  return /[0-9]/.test(text[i]) || (text[i] === '.' && /[0-9]/.test(text[i + 1] ?? ''));
}

/** The end of the number literal at `start` (Python and JavaScript share the forms that matter here). */
export function numberEnd(text: string, start: number): number {
  let i = start;
  while (i < text.length && /[0-9a-zA-Z_.]/.test(text[i])) {
    // Exponent signs belong to the number: 1e-3 (not in hexadecimal, where e is a digit).
    if ((text[i] === 'e' || text[i] === 'E') && (text[i + 1] === '-' || text[i + 1] === '+') && !/^0[xX]/.test(text.slice(start, i))) i++;
    i++;
  }
  return i;
}

/** A literal string value: a plain string token, or a template literal without substitutions. */
export function literalValue(token: Token | undefined): string | undefined {
  if (!token || (token.kind !== 'string' && token.kind !== 'template') || token.interpolated || token.unterminated) return undefined;
  return token.value;
}
