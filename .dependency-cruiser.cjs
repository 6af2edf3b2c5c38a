// The layering `npm run lint:layers` enforces (see ARCHITECTURE.md), bottom to top:
//   core (src/core: onnx + session, autodiff, explain, image, preprocess, dataset, inside)
//   → compute process (src/compute: client, worker, job runner, jobs) and protocol (src/protocol.ts)
//   → extension (src/extension), cli (src/cli); webview/ talks to the rest only through the protocol.
// The compute pattern also names the process's files where they lived before the move to
// src/compute/, so the rules mean the same on both layouts.
const COMPUTE = '^(src/compute/|src/core/runtime/(client|worker|jobRunner|jobs)([.]ts$|/))';
const CORE = '^src/core/';
const PROTOCOL = '^src/protocol[.]ts$';
const VSCODE = '(^|/)vscode$|node_modules/@types/vscode/';

module.exports = {
  forbidden: [
    { name: 'no-cycles', severity: 'error', comment: 'Modules must not import each other, directly or through others.', from: {}, to: { circular: true } },
    {
      name: 'core-imports-up',
      severity: 'error',
      comment: 'The core knows nothing of the compute process, the protocol, the extension, the CLI or the webview.',
      from: { path: CORE, pathNot: COMPUTE },
      to: { path: [COMPUTE, PROTOCOL, '^src/(extension|cli)/', '^webview/'] },
    },
    { name: 'core-imports-vscode', severity: 'error', comment: 'The core runs outside VS Code (CLI, worker).', from: { path: CORE }, to: { path: VSCODE } },
    {
      name: 'compute-imports-up',
      severity: 'error',
      comment: 'The compute process serves the extension; it must not import it, the CLI, the webview or vscode.',
      from: { path: COMPUTE },
      to: { path: ['^src/(extension|cli)/', '^webview/', VSCODE] },
    },
    {
      name: 'protocol-imports-up',
      severity: 'error',
      comment: 'The protocol is shared types: it may name core types, nothing above.',
      from: { path: PROTOCOL },
      to: { path: [COMPUTE, '^src/(extension|cli)/', '^webview/', VSCODE] },
    },
    {
      name: 'extension-imports-sideways',
      severity: 'error',
      comment: 'The extension does not use the CLI or the webview app; webview/page.ts is the page shell (pure strings) both load.',
      from: { path: '^src/extension/' },
      to: { path: ['^src/cli/', '^webview/'], pathNot: '^webview/page[.]ts$' },
    },
    {
      name: 'cli-imports-sideways',
      severity: 'error',
      comment: 'The CLI runs without VS Code.',
      from: { path: '^src/cli/' },
      to: { path: ['^src/extension/', '^webview/', VSCODE] },
    },
    {
      name: 'webview-imports-outside',
      severity: 'error',
      comment: 'The webview runs in a browser: it reaches the rest only through the protocol types (and the colormap table).',
      from: { path: '^webview/' },
      to: { path: '^(src/|node_modules/@types/vscode)', pathNot: [PROTOCOL, '^src/core/image/colormap-data[.]ts$'] },
    },
    { name: 'webview-imports-node', severity: 'error', comment: 'No Node built-ins in the browser.', from: { path: '^webview/' }, to: { dependencyTypes: ['core'] } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(out|dist|node_modules)/' },
    // Type-only imports count: they are part of the layering too.
    tsPreCompilationDeps: true,
    // TypeScript 7 has no JS API for dependency-cruiser to parse with; swc parses the .ts files.
    parser: 'swc',
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
