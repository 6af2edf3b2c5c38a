// A Python tokenizer good enough to find calls in source code: names, numbers, operators and
// string literals (prefixes, triple quotes, escapes, f-strings with nested expressions), with
// comments dropped and the logical-line structure kept (NEWLINE at the end of each logical line,
// none inside brackets or after a backslash continuation). Follows the lexical rules of the Python
// language reference (section 2, "Lexical analysis"); it never throws: unterminated strings end at
// the end of the text.
import { Token, TokenKind, lineStarts, numberEnd, positionOf, startsNumber } from './tokens';

const NAME_START = /[\p{L}\p{Nl}_]/u;
const NAME_PART = /[\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}_]/u;
const STRING_PREFIX = /^(?:[rRuUbBfFtT]|[rR][bBfFtT]|[bBfFtT][rR])$/;
const THREE_CHAR_OPS = ['**=', '//=', '>>=', '<<=', '...'];
const TWO_CHAR_OPS = ['**', '//', '>>', '<<', '<=', '>=', '==', '!=', '->', '+=', '-=', '*=', '/=', '%=', '&=', '|=', '^=', '@=', ':='];
const OPEN = '([{';
const CLOSE = ')]}';

export function tokenizePython(text: string): Token[] {
  const starts = lineStarts(text);
  const tokens: Token[] = [];
  let depth = 0;
  let i = 0;
  const push = (kind: TokenKind, start: number, end: number, extra: Partial<Token> = {}) => {
    const { line, column } = positionOf(starts, start);
    tokens.push({ kind, text: text.slice(start, end), start, end, line, column, ...extra });
  };
  const endLogicalLine = (at: number) => {
    const last = tokens[tokens.length - 1];
    if (last && last.kind !== 'newline') push('newline', at, at);
  };

  while (i < text.length) {
    const c = text[i];
    if (c === '\n') {
      if (depth === 0) endLogicalLine(i);
      i++;
    } else if (c === ' ' || c === '\t' || c === '\r' || c === '\f') {
      i++;
    } else if (c === '\\' && (text[i + 1] === '\n' || (text[i + 1] === '\r' && text[i + 2] === '\n'))) {
      i += text[i + 1] === '\n' ? 2 : 3; // explicit line joining
    } else if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '"' || c === "'") {
      i = readString(text, i, i, '', push);
    } else if (NAME_START.test(c)) {
      const start = i;
      while (i < text.length && NAME_PART.test(text[i])) i++;
      const word = text.slice(start, i);
      if ((text[i] === '"' || text[i] === "'") && STRING_PREFIX.test(word)) i = readString(text, start, i, word.toLowerCase(), push);
      else push('name', start, i);
    } else if (startsNumber(text, i)) {
      const start = i;
      i = numberEnd(text, start);
      push('number', start, i);
    } else {
      const op = THREE_CHAR_OPS.find((o) => text.startsWith(o, i)) ?? TWO_CHAR_OPS.find((o) => text.startsWith(o, i)) ?? c;
      if (OPEN.includes(op)) depth++;
      else if (CLOSE.includes(op)) depth = Math.max(0, depth - 1);
      push('op', i, i + op.length);
      i += op.length;
    }
  }
  endLogicalLine(text.length);
  return tokens;
}

type Push = (kind: TokenKind, start: number, end: number, extra?: Partial<Token>) => void;

/** Reads a string literal whose quote is at `quoteAt` (prefix from `start`); returns the index after it. */
function readString(text: string, start: number, quoteAt: number, prefix: string, push: Push): number {
  const quote = text[quoteAt];
  const triple = text.startsWith(quote.repeat(3), quoteAt);
  const delimiter = triple ? quote.repeat(3) : quote;
  const raw = prefix.includes('r');
  const interpolated = prefix.includes('f') || prefix.includes('t');
  let i = quoteAt + delimiter.length;
  let value = '';
  let braces = 0;
  while (i < text.length) {
    if (braces === 0 && text.startsWith(delimiter, i)) {
      push('string', start, i + delimiter.length, { value: interpolated ? undefined : value, interpolated });
      return i + delimiter.length;
    }
    const c = text[i];
    if (!triple && c === '\n') break; // unterminated single-line string
    if (interpolated && braces > 0) {
      // Inside a replacement field: skip nested strings whole, count braces.
      if (c === '"' || c === "'") {
        i = skipNestedString(text, i);
        continue;
      }
      if (c === '{') braces++;
      else if (c === '}') braces--;
      i++;
      continue;
    }
    if (interpolated && c === '{') {
      if (text[i + 1] === '{') i += 2;
      else {
        braces = 1;
        i++;
      }
      continue;
    }
    if (c === '\\' && i + 1 < text.length) {
      value += raw ? text.slice(i, i + 2) : unescape(text[i + 1]);
      i += 2;
      continue;
    }
    value += c;
    i++;
  }
  push('string', start, i, { value: interpolated ? undefined : value, interpolated, unterminated: true });
  return i;
}

function skipNestedString(text: string, quoteAt: number): number {
  const quote = text[quoteAt];
  const delimiter = text.startsWith(quote.repeat(3), quoteAt) ? quote.repeat(3) : quote;
  let i = quoteAt + delimiter.length;
  while (i < text.length && !text.startsWith(delimiter, i)) i += text[i] === '\\' ? 2 : 1;
  return Math.min(text.length, i + delimiter.length);
}

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '0': '\0', '\\': '\\', "'": "'", '"': '"', '\n': '' };

function unescape(c: string): string {
  return ESCAPES[c] ?? `\\${c}`;
}
