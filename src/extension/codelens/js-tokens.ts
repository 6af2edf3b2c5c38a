// A JavaScript/TypeScript tokenizer good enough to find calls in source code: names, numbers,
// punctuators, string literals, template literals (substitutions tokenized as code, nested
// templates included) and regular expression literals, with line and block comments dropped.
// Follows ECMA-262's lexical grammar (section 12); the one heuristic is the classic rule for '/':
// it starts a regular expression unless the previous token ends an expression (a name that is not
// a keyword, a literal, or a closing bracket). It never throws: unterminated literals end at the
// end of the text (strings at the end of the line).
import { Token, TokenKind, lineStarts, numberEnd, positionOf, startsNumber } from './tokens';

const NAME_START = /[\p{L}\p{Nl}_$]/u;
const NAME_PART = /[\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}_$\u200c\u200d]/u;
const PUNCTUATORS = [
  '>>>=',
  '...',
  '===',
  '!==',
  '**=',
  '<<=',
  '>>=',
  '>>>',
  '&&=',
  '||=',
  '??=',
  '=>',
  '==',
  '!=',
  '<=',
  '>=',
  '&&',
  '||',
  '??',
  '?.',
  '++',
  '--',
  '+=',
  '-=',
  '*=',
  '/=',
  '%=',
  '&=',
  '|=',
  '^=',
  '**',
  '<<',
  '>>',
];
// Keywords after which an expression starts, so a '/' there opens a regular expression.
const EXPRESSION_KEYWORDS = new Set(['return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void', 'throw', 'case', 'do', 'else', 'yield', 'await']);

export function tokenizeJs(text: string): Token[] {
  const starts = lineStarts(text);
  const tokens: Token[] = [];
  // One entry per open '{' or template substitution: true when the brace opened a `${`.
  const braces: boolean[] = [];
  let i = 0;
  const push = (kind: TokenKind, start: number, end: number, extra: Partial<Token> = {}) => {
    const { line, column } = positionOf(starts, start);
    tokens.push({ kind, text: text.slice(start, end), start, end, line, column, ...extra });
  };

  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 2;
    } else if (c === '"' || c === "'") {
      i = readQuoted(text, i, push);
    } else if (c === '`') {
      i = readTemplate(text, i, i + 1, push, braces);
    } else if (c === '}' && braces.length > 0 && braces[braces.length - 1]) {
      braces.pop();
      i = readTemplate(text, i, i + 1, undefined, braces); // the template's text after a substitution
    } else if (NAME_START.test(c) || c === '#' || (c === '\\' && text[i + 1] === 'u')) {
      const start = i;
      i++;
      while (i < text.length && (NAME_PART.test(text[i]) || text[i] === '\\')) i++;
      push('name', start, i);
    } else if (startsNumber(text, i)) {
      const start = i;
      i = numberEnd(text, start);
      push('number', start, i);
    } else if (c === '/' && regexAllowed(tokens[tokens.length - 1])) {
      i = readRegex(text, i, push);
    } else {
      const op = PUNCTUATORS.find((p) => text.startsWith(p, i)) ?? c;
      if (op === '{') braces.push(false);
      else if (op === '}') braces.pop();
      push('op', i, i + op.length);
      i += op.length;
    }
  }
  return tokens;
}

type Push = (kind: TokenKind, start: number, end: number, extra?: Partial<Token>) => void;

function regexAllowed(previous: Token | undefined): boolean {
  if (!previous) return true;
  switch (previous.kind) {
    case 'name':
      return EXPRESSION_KEYWORDS.has(previous.text);
    case 'number':
    case 'string':
    case 'template':
    case 'regex':
      return false;
    case 'op':
      return !(previous.text === ')' || previous.text === ']' || previous.text === '}' || previous.text === '++' || previous.text === '--');
    default:
      return true;
  }
}

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', v: '\v', '0': '\0', '\n': '' };

function readQuoted(text: string, quoteAt: number, push: Push): number {
  const quote = text[quoteAt];
  let i = quoteAt + 1;
  let value = '';
  while (i < text.length && text[i] !== quote && text[i] !== '\n') {
    if (text[i] === '\\' && i + 1 < text.length) {
      value += ESCAPES[text[i + 1]] ?? text[i + 1];
      i += 2;
    } else value += text[i++];
  }
  const closed = text[i] === quote;
  push('string', quoteAt, closed ? i + 1 : i, { value, unterminated: !closed });
  return closed ? i + 1 : i;
}

/**
 * Reads template text from `from` up to the closing backtick or a `${`. A template with
 * substitutions becomes one 'template' token for its head (marked interpolated) and the
 * substitutions' tokens follow; the text after each `}` continues that template (push undefined).
 */
function readTemplate(text: string, start: number, from: number, push: Push | undefined, braces: boolean[]): number {
  let i = from;
  let value = '';
  while (i < text.length) {
    const c = text[i];
    if (c === '`') {
      push?.('template', start, i + 1, { value, interpolated: false });
      return i + 1;
    }
    if (c === '$' && text[i + 1] === '{') {
      push?.('template', start, i + 2, { interpolated: true });
      braces.push(true);
      return i + 2;
    }
    if (c === '\\' && i + 1 < text.length) {
      value += ESCAPES[text[i + 1]] ?? text[i + 1];
      i += 2;
    } else value += text[i++];
  }
  push?.('template', start, i, { value, unterminated: true });
  return i;
}

function readRegex(text: string, slashAt: number, push: Push): number {
  let i = slashAt + 1;
  let inClass = false;
  while (i < text.length && text[i] !== '\n') {
    const c = text[i];
    if (c === '\\') i += 2;
    else if (c === '[') ((inClass = true), i++);
    else if (c === ']') ((inClass = false), i++);
    else if (c === '/' && !inClass) break;
    else i++;
  }
  i = Math.min(i + 1, text.length);
  while (i < text.length && /[a-z]/i.test(text[i])) i++;
  push('regex', slashAt, i);
  return i;
}
