import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { PythonModuleIndex, matchTracePath, scopePath } from '../../src/extension/source/layer-source';
import { parsePythonModules } from '../../src/extension/source/python-modules';

const SAMPLE_TRAIN = path.resolve(__dirname, '../../../sample/train.py');

/** 1-based line of the first line of `text` that contains `needle` (test readability). */
function lineOf(text: string, needle: string, after = 0): number {
  const lines = text.split('\n');
  const index = lines.findIndex((l, i) => i >= after && l.includes(needle));
  assert.ok(index >= 0, `'${needle}' not found`);
  return index;
}

describe('module scope paths from node names', () => {
  it('reads nested scopes whose parts are qualified relative to different modules', () => {
    assert.deepStrictEqual(scopePath('/layer4/layer4.1/conv2/Conv'), ['layer4', '1', 'conv2']);
    assert.deepStrictEqual(scopePath('/features/features.0/features.0.0/Conv'), ['features', '0', '0']);
    assert.deepStrictEqual(scopePath('/features/features.1/conv/conv.0/conv.0.0/Conv'), ['features', '1', 'conv', '0', '0']);
    assert.deepStrictEqual(scopePath('/block2/conv/Conv'), ['block2', 'conv']);
    assert.strictEqual(scopePath('Conv_12'), undefined);
    assert.strictEqual(scopePath('/Conv'), undefined);
  });
});

describe('Python module definitions', () => {
  it('reads the classes of sample/train.py with their submodule assignments', () => {
    const text = fs.readFileSync(SAMPLE_TRAIN, 'utf8');
    const classes = parsePythonModules(text, SAMPLE_TRAIN);
    const net = classes.find((c) => c.name === 'ShapesNet');
    assert.ok(net, 'ShapesNet found');
    assert.deepStrictEqual(net.bases, ['nn.Module']);
    assert.strictEqual(net.attributes.get('conv1')?.callee, 'nn.Conv2d');
    assert.strictEqual(net.attributes.get('conv1')?.line, lineOf(text, 'self.conv1 = nn.Conv2d('));
    assert.strictEqual(net.attributes.get('block2')?.callee, 'ConvBlock');
    assert.ok(net.selfCalls.some((c) => c.name === 'block4' && c.line === lineOf(text, 'x = self.block4(x)')));
  });

  it('reads inline Sequential elements: positional, list, OrderedDict; not those built in code', () => {
    const text = [
      'class Net(nn.Module):',
      '    def __init__(self):',
      '        self.features = nn.Sequential(',
      '            nn.Conv2d(3, 8, 3),',
      '            nn.ReLU(),',
      '        )',
      '        self.blocks = nn.ModuleList([Block(), Block()])',
      '        self.named = nn.Sequential(OrderedDict([("conv", nn.Conv2d(8, 8, 3)), ("act", nn.ReLU())]))',
      '        self.built = nn.Sequential(*layers)',
      '        self.add_module("extra", nn.Linear(8, 2))',
    ].join('\n');
    const [net] = parsePythonModules(text, '/w/net.py');
    assert.deepStrictEqual(
      net.attributes.get('features')?.elements?.map((e) => [e.callee, e.line]),
      [
        ['nn.Conv2d', 3],
        ['nn.ReLU', 4],
      ],
    );
    assert.deepStrictEqual(
      net.attributes.get('blocks')?.elements?.map((e) => e.callee),
      ['Block', 'Block'],
    );
    assert.deepStrictEqual(
      net.attributes.get('named')?.elements?.map((e) => [e.name, e.callee]),
      [
        ['conv', 'nn.Conv2d'],
        ['act', 'nn.ReLU'],
      ],
    );
    assert.strictEqual(net.attributes.get('built')?.elements, undefined);
    assert.strictEqual(net.attributes.get('extra')?.callee, 'nn.Linear');
  });
});

describe('layer to source links', () => {
  it('links every convolution of the sample model to its definition in sample/train.py', () => {
    const text = fs.readFileSync(SAMPLE_TRAIN, 'utf8');
    const index = new PythonModuleIndex(parsePythonModules(text, SAMPLE_TRAIN));
    const convBlock = lineOf(text, 'class ConvBlock');
    // A layer inside a block links to the block's instantiation (rule 5); its shared line inside
    // ConvBlock is the definition.
    const cases: [string, number, string, number | undefined][] = [
      ['/conv1/Conv', lineOf(text, 'self.conv1 = nn.Conv2d('), 'ShapesNet', undefined],
      ['/block2/conv/Conv', lineOf(text, 'self.block2 = ConvBlock('), 'ShapesNet', lineOf(text, 'self.conv = nn.Conv2d(', convBlock)],
      ['/block4/conv/Conv', lineOf(text, 'self.block4 = ConvBlock('), 'ShapesNet', lineOf(text, 'self.conv = nn.Conv2d(', convBlock)],
      ['/block4/relu/Relu', lineOf(text, 'self.block4 = ConvBlock('), 'ShapesNet', lineOf(text, 'self.relu = nn.ReLU(', convBlock)],
      ['/head/Gemm', lineOf(text, 'self.head = nn.Linear('), 'ShapesNet', undefined],
    ];
    for (const [node, line, className, definition] of cases) {
      const link = index.link({ name: node });
      assert.deepStrictEqual([link?.file, link?.line, link?.className, link?.rule], [SAMPLE_TRAIN, line, className, 'scope'], node);
      assert.deepStrictEqual(link?.definition && [link.definition.line, link.definition.className], definition === undefined ? undefined : [definition, 'ConvBlock'], node);
    }
  });

  it('links a layer of a block inside an inline Sequential to the element that instantiates the block', () => {
    const source = [
      'class Block(nn.Module):', // 0
      '    def __init__(self):', // 1
      '        self.conv = nn.Conv2d(8, 8, 3)', // 2
      'class Net(nn.Module):', // 3
      '    def __init__(self):', // 4
      '        self.stages = nn.Sequential(', // 5
      '            Block(),', // 6
      '            Block(),', // 7
      '        )', // 8
    ].join('\n');
    const index = new PythonModuleIndex(parsePythonModules(source, '/w/net.py'));
    const link = index.link({ name: '/stages/stages.1/conv/Conv' });
    assert.deepStrictEqual([link?.line, link?.className, link?.rule, link?.definition?.line, link?.definition?.className], [7, 'Net', 'scope', 2, 'Block']);
  });

  const RESNET = [
    'class BasicBlock(nn.Module):', // 0
    '    def __init__(self):', // 1
    '        self.conv1 = conv3x3()', // 2
    '        self.relu = nn.ReLU(inplace=True)', // 3
    '        self.conv2 = conv3x3()', // 4
    '    def forward(self, x):', // 5
    '        out = self.conv1(x)', // 6
    '        out = self.conv2(out)', // 7
    'class ResNet(nn.Module):', // 8
    '    def __init__(self):', // 9
    '        self.conv1 = nn.Conv2d(3, 64, 7)', // 10
    '        self.layer4 = self._make_layer(512)', // 11
    '        self.features = nn.Sequential(', // 12
    '            nn.Conv2d(3, 8, 3),', // 13
    '            nn.Sequential(nn.Conv2d(8, 8, 3), nn.BatchNorm2d(8), nn.ReLU6()),', // 14
    '        )', // 15
  ].join('\n');

  it('skips indices of containers built in code and continues by name (rule 3), else points at the container (rule 4)', () => {
    const index = new PythonModuleIndex(parsePythonModules(RESNET, '/w/resnet.py'));
    assert.deepStrictEqual(pick(index.link({ name: '/layer4/layer4.1/conv2/Conv' })), [4, 'BasicBlock', 'name']);
    assert.deepStrictEqual(pick(index.link({ name: '/layer4/layer4.1/relu_1/Relu' })), [3, 'BasicBlock', 'name']);
    assert.deepStrictEqual(pick(index.link({ name: '/layer4/layer4.1/Add' })), [11, 'ResNet', 'container']);
  });

  it('links a name several classes assign to the model class when the whole model is linked', () => {
    const index = new PythonModuleIndex(parsePythonModules(RESNET, '/w/resnet.py'));
    const layers = ['/conv1/Conv', '/layer4/layer4.1/conv2/Conv', '/features/features.0/Conv'].map((name) => ({ name }));
    const links = index.linkModel(layers);
    assert.deepStrictEqual(pick(links.get('/conv1/Conv')), [10, 'ResNet', 'scope']);
    assert.deepStrictEqual(pick(links.get('/layer4/layer4.1/conv2/Conv')), [4, 'BasicBlock', 'name']);
    assert.deepStrictEqual(pick(links.get('/features/features.0/Conv')), [13, 'ResNet', 'scope']);
  });

  it('follows indices through inline Sequentials to the element', () => {
    const index = new PythonModuleIndex(parsePythonModules(RESNET, '/w/resnet.py'));
    const link = index.link({ name: '/features/features.1/features.1.2/Clip' });
    assert.deepStrictEqual([link?.line, link?.column, link?.rule], [14, 65, 'scope']);
  });

  it('prefers the stack trace: the submodule called on the traced line, else the line itself', () => {
    const index = new PythonModuleIndex(parsePythonModules(RESNET, '/w/resnet.py'));
    const trace =
      'File "/home/someone/project/resnet.py", line 8, in forward\n    out = self.conv2(out)\n' +
      'File "/usr/lib/python3/site-packages/torch/nn/modules/conv.py", line 549, in forward';
    const fileOf = (p: string) => matchTracePath(p, ['/w/resnet.py', '/w/other.py']);
    assert.deepStrictEqual(pick(index.link({ name: '/layer4/layer4.1/conv2/Conv', sourceTrace: trace }, fileOf)), [4, 'BasicBlock', 'trace']);
    const plainLine = 'File "/w/resnet.py", line 10, in __init__';
    assert.deepStrictEqual(pick(index.link({ name: '/x/Conv', sourceTrace: plainLine }, fileOf)), [9, 'ResNet', 'trace']);
  });
});

function pick(link: { line: number; className?: string; rule: string } | undefined) {
  return link && [link.line, link.className, link.rule];
}
