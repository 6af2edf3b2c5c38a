// Finds the calls that load or export an ONNX model, on tokens (so calls inside strings and
// comments never match):
//   Python: onnxruntime.InferenceSession("m.onnx"), ort.InferenceSession(...), InferenceSession(...),
//           sess.run(...) for a `sess` assigned from InferenceSession with a literal path,
//           torch.onnx.export(model, x, "m.onnx") (third argument or f=...).
//   JS/TS:  InferenceSession.create("m.onnx"), ort.InferenceSession.create(...).
import { tokenizeJs } from './js-tokens';
import { tokenizePython } from './python-tokens';
import { Token, literalValue } from './tokens';

export type InferenceCallKind = 'session' | 'run' | 'export' | 'create';

export interface InferenceCall {
  kind: InferenceCallKind;
  /** 0-based position of the callee's first character. */
  line: number;
  column: number;
  /** The model path when the call names it with a string literal. */
  modelPath?: string;
}

export type CodeLanguage = 'python' | 'javascript';

export function findInferenceCalls(text: string, language: CodeLanguage): InferenceCall[] {
  return language === 'python' ? findPythonCalls(tokenizePython(text)) : findJsCalls(tokenizeJs(text));
}

export interface Argument {
  keyword?: string;
  /** The value's tokens (after `keyword=`). */
  tokens: Token[];
  /** Index of the value's first token in the token array. */
  first: number;
}

/** The dotted name that ends just before tokens[paren] ('(' ), and the index of its first token. */
export function calleeBefore(tokens: Token[], paren: number): { parts: string[]; first: number } | undefined {
  let k = paren - 1;
  if (tokens[k]?.kind !== 'name') return undefined;
  const parts = [tokens[k].text];
  while (tokens[k - 1]?.kind === 'op' && (tokens[k - 1].text === '.' || tokens[k - 1].text === '?.') && tokens[k - 2]?.kind === 'name') {
    parts.unshift(tokens[k - 2].text);
    k -= 2;
  }
  // A call on the result of another expression (f().x(...), a[0].x(...)) is not a dotted name.
  if (tokens[k - 1]?.kind === 'op' && (tokens[k - 1].text === '.' || tokens[k - 1].text === '?.')) return undefined;
  return { parts, first: k };
}

/**
 * The items between the bracket tokens[open] ('(', '[' or '{') and its match, split at top-level
 * commas: a call's arguments, a list's elements.
 */
export function callArguments(tokens: Token[], open: number, python: boolean): Argument[] {
  const args: Argument[] = [];
  let first = open + 1;
  let depth = 0;
  let k = open + 1;
  for (; k < tokens.length; k++) {
    const t = tokens[k];
    if (t.kind === 'op' && '([{'.includes(t.text)) depth++;
    if (t.kind === 'op' && ')]}'.includes(t.text)) {
      if (depth === 0) break;
      depth--;
    }
    if (depth === 0 && t.kind === 'op' && t.text === ',') {
      args.push(toArgument(tokens, first, k, python));
      first = k + 1;
    }
  }
  const last = toArgument(tokens, first, k, python);
  if (last.tokens.length > 0) args.push(last);
  return args;
}

function toArgument(all: Token[], from: number, to: number, python: boolean): Argument {
  const tokens = all.slice(from, to).filter((t) => t.kind !== 'newline');
  if (python && tokens.length >= 2 && tokens[0].kind === 'name' && tokens[1].kind === 'op' && tokens[1].text === '=') {
    return { keyword: tokens[0].text, tokens: tokens.slice(2), first: all.indexOf(tokens[2], from) };
  }
  return { tokens, first: from };
}

/** The argument's value when it is a string literal (Python: adjacent literals concatenated). */
function literalArgument(arg: Argument | undefined): string | undefined {
  if (!arg || arg.tokens.length === 0) return undefined;
  const values = arg.tokens.map(literalValue);
  return values.every((v) => v !== undefined) ? values.join('') : undefined;
}

function argument(args: Argument[], position: number, keyword: string): Argument | undefined {
  return args.find((a) => a.keyword === keyword) ?? args.filter((a) => !a.keyword)[position];
}

const DEFINITION_KEYWORDS = new Set(['def', 'class', 'function', 'async']);

function isDefinition(tokens: Token[], first: number): boolean {
  const before = tokens[first - 1];
  return before?.kind === 'name' && DEFINITION_KEYWORDS.has(before.text);
}

/** `target = ` right before tokens[first], at the start of a statement: the dotted target. */
function assignmentTarget(tokens: Token[], first: number): string | undefined {
  const eq = tokens[first - 1];
  if (eq?.kind !== 'op' || eq.text !== '=') return undefined;
  const parts: string[] = [];
  let k = first - 2;
  while (tokens[k]?.kind === 'name') {
    parts.unshift(tokens[k].text);
    if (tokens[k - 1]?.kind === 'op' && tokens[k - 1].text === '.') k -= 2;
    else break;
  }
  const start = tokens[k - 1];
  return parts.length > 0 && (!start || start.kind === 'newline') ? parts.join('.') : undefined;
}

function findPythonCalls(tokens: Token[]): InferenceCall[] {
  const calls: InferenceCall[] = [];
  const sessions = new Map<string, string>();
  tokens.forEach((t, paren) => {
    if (t.kind !== 'op' || t.text !== '(') return;
    const callee = calleeBefore(tokens, paren);
    if (!callee || isDefinition(tokens, callee.first)) return;
    const { parts, first } = callee;
    const at = { line: tokens[first].line, column: tokens[first].column };
    const last = parts[parts.length - 1];
    if (last === 'InferenceSession') {
      const modelPath = literalArgument(argument(callArguments(tokens, paren, true), 0, 'path_or_bytes'));
      calls.push({ kind: 'session', ...at, modelPath });
      const target = assignmentTarget(tokens, first);
      if (target && modelPath !== undefined) sessions.set(target, modelPath);
      else if (target) sessions.delete(target);
    } else if (parts.join('.') === 'torch.onnx.export') {
      calls.push({ kind: 'export', ...at, modelPath: literalArgument(argument(callArguments(tokens, paren, true), 2, 'f')) });
    } else if (last === 'run' && parts.length >= 2) {
      const modelPath = sessions.get(parts.slice(0, -1).join('.'));
      if (modelPath !== undefined) calls.push({ kind: 'run', ...at, modelPath });
    }
  });
  return calls;
}

function findJsCalls(tokens: Token[]): InferenceCall[] {
  const calls: InferenceCall[] = [];
  tokens.forEach((t, paren) => {
    if (t.kind !== 'op' || t.text !== '(') return;
    const callee = calleeBefore(tokens, paren);
    if (!callee || isDefinition(tokens, callee.first)) return;
    const { parts, first } = callee;
    if (parts.length < 2 || parts[parts.length - 1] !== 'create' || parts[parts.length - 2] !== 'InferenceSession') return;
    const modelPath = literalArgument(callArguments(tokens, paren, false)[0]);
    calls.push({ kind: 'create', line: tokens[first].line, column: tokens[first].column, modelPath });
  });
  return calls;
}
