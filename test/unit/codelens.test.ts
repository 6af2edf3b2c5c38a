import * as assert from 'assert';
import { findInferenceCalls } from '../../src/extension/codelens/inference-calls';
import { tokenizeJs } from '../../src/extension/codelens/js-tokens';
import { tokenizePython } from '../../src/extension/codelens/python-tokens';

const kinds = (tokens: { kind: string; text: string }[]) => tokens.map((t) => `${t.kind}:${t.text}`);

describe('Python tokenizer', () => {
  it('reads prefixed, triple-quoted and escaped strings with their values', () => {
    const tokens = tokenizePython(`a = r"x\\y" + b'q' + """one\n'two'""" + 'it\\'s'`);
    const strings = tokens.filter((t) => t.kind === 'string');
    assert.deepStrictEqual(
      strings.map((t) => t.value),
      ['x\\y', 'q', "one\n'two'", "it's"],
    );
  });

  it('drops comments and keeps code after a string that contains #', () => {
    const tokens = tokenizePython(`x = "a # not a comment"  # a comment (with a call())\ny = 1`);
    assert.deepStrictEqual(kinds(tokens), ['name:x', 'op:=', 'string:"a # not a comment"', 'newline:', 'name:y', 'op:=', 'number:1', 'newline:']);
  });

  it('treats f-strings as one interpolated string, nested quotes and braces included', () => {
    const tokens = tokenizePython(`f"{d['k']} {{literal}} {g(\"x\")}" + f'''{x}'''`);
    assert.deepStrictEqual(
      kinds(tokens).map((k) => k.split(':')[0]),
      ['string', 'op', 'string', 'newline'],
    );
    assert.ok(tokens[0].interpolated && tokens[0].value === undefined);
  });

  it('ends logical lines only outside brackets and backslash continuations', () => {
    const tokens = tokenizePython('f(a,\n  b)\nx = 1 + \\\n  2\n');
    assert.strictEqual(tokens.filter((t) => t.kind === 'newline').length, 2);
  });

  it('gives 0-based lines and columns', () => {
    const tokens = tokenizePython('\n  value = 3');
    assert.deepStrictEqual([tokens[0].line, tokens[0].column], [1, 2]);
  });
});

describe('JavaScript/TypeScript tokenizer', () => {
  it('drops line and block comments', () => {
    const tokens = tokenizeJs('a /* b(c) */ + d // e("f")\ng');
    assert.deepStrictEqual(kinds(tokens), ['name:a', 'op:+', 'name:d', 'name:g']);
  });

  it('reads strings and template literals; substitutions are code', () => {
    const tokens = tokenizeJs("f('x\\'y', \"z\", `plain`, `a${b(`in`)}c`)");
    assert.deepStrictEqual(
      tokens.filter((t) => t.kind === 'string' || t.kind === 'template').map((t) => [t.kind, t.value, !!t.interpolated]),
      [
        ['string', "x'y", false],
        ['string', 'z', false],
        ['template', 'plain', false],
        ['template', undefined, true],
        ['template', 'in', false],
      ],
    );
    assert.ok(tokens.some((t) => t.kind === 'name' && t.text === 'b'));
  });

  it('tells a regular expression from a division', () => {
    const regex = tokenizeJs('x = /a\\/b[/]"/g.test(s)');
    assert.deepStrictEqual(
      regex.filter((t) => t.kind === 'regex').map((t) => t.text),
      ['/a\\/b[/]"/g'],
    );
    const division = tokenizeJs('y = a / b / c');
    assert.strictEqual(division.filter((t) => t.kind === 'regex').length, 0);
    const afterReturn = tokenizeJs('return /"/.source');
    assert.deepStrictEqual(
      afterReturn.map((t) => t.kind),
      ['name', 'regex', 'op', 'name'],
    );
  });
});

describe('inference call matching', () => {
  it('finds InferenceSession calls with literal and non-literal paths in Python', () => {
    const text = [
      'import onnxruntime as ort',
      'sess = ort.InferenceSession("models/m.onnx", providers=["CPUExecutionProvider"])',
      'other = onnxruntime.InferenceSession(path_or_bytes="a" "b.onnx")',
      'dynamic = InferenceSession(model_path)',
    ].join('\n');
    assert.deepStrictEqual(findInferenceCalls(text, 'python'), [
      { kind: 'session', line: 1, column: 7, modelPath: 'models/m.onnx' },
      { kind: 'session', line: 2, column: 8, modelPath: 'ab.onnx' },
      { kind: 'session', line: 3, column: 10, modelPath: undefined },
    ]);
  });

  it('finds run() on a session assigned from InferenceSession with a literal path, and only those', () => {
    const text = [
      'class Runner:',
      '    def __init__(self):',
      '        self.session = ort.InferenceSession("m.onnx")',
      '    def go(self, x):',
      '        return self.session.run(None, {"input": x})',
      'loose = ort.InferenceSession(path)',
      'loose.run(None, {})',
      'unrelated.run()',
    ].join('\n');
    const calls = findInferenceCalls(text, 'python');
    assert.deepStrictEqual(
      calls.filter((c) => c.kind === 'run'),
      [{ kind: 'run', line: 4, column: 15, modelPath: 'm.onnx' }],
    );
  });

  it('finds torch.onnx.export with the file as third argument or f=', () => {
    const text = 'torch.onnx.export(model, dummy, "out.onnx", opset_version=13)\ntorch.onnx.export(model, (x, y), f="k.onnx")';
    assert.deepStrictEqual(
      findInferenceCalls(text, 'python').map((c) => c.modelPath),
      ['out.onnx', 'k.onnx'],
    );
  });

  it('never matches inside Python strings, comments or definitions', () => {
    const text = [
      '# sess = ort.InferenceSession("commented.onnx")',
      'doc = """',
      'ort.InferenceSession("in_docstring.onnx")',
      '"""',
      'msg = f"{ort}.InferenceSession(\'x.onnx\')"',
      'def InferenceSession(path):',
      '    pass',
    ].join('\n');
    assert.deepStrictEqual(findInferenceCalls(text, 'python'), []);
  });

  it('finds InferenceSession.create in JavaScript and TypeScript, not in comments, strings or templates', () => {
    const text = [
      "import * as ort from 'onnxruntime-node';",
      "const a = await ort.InferenceSession.create('model.onnx');",
      'const b = await InferenceSession.create(`plain.onnx`, { executionProviders: ["cpu"] });',
      'const c = await InferenceSession.create(`${dir}/m.onnx`);',
      "// const d = await InferenceSession.create('commented.onnx');",
      "/* InferenceSession.create('block.onnx') */",
      'const e = \'InferenceSession.create("string.onnx")\';',
      'const f = `InferenceSession.create("template.onnx")`;',
    ].join('\n');
    assert.deepStrictEqual(findInferenceCalls(text, 'javascript'), [
      { kind: 'create', line: 1, column: 16, modelPath: 'model.onnx' },
      { kind: 'create', line: 2, column: 16, modelPath: 'plain.onnx' },
      { kind: 'create', line: 3, column: 16, modelPath: undefined },
    ]);
  });
});
