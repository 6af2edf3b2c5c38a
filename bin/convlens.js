#!/usr/bin/env node
// The ConvLens command-line tool; the bundles are built by `npm install` (prepare) or `npm run build`.
// Before the CLI loads, a process started without huge pages starts itself again with them
// (src/core/onnx/huge-pages.ts: sessions no longer wait for their weights to be mapped 4 KiB at a time).
const path = require('path');
const fs = require('fs');
const dist = path.join(__dirname, '..', 'dist');
const cli = path.join(dist, 'cli.js');
const hugePages = path.join(dist, 'huge-pages.js');
if (!fs.existsSync(cli) || !fs.existsSync(hugePages)) {
  console.error('convlens: the CLI is not built yet; run `npm run build` in ' + path.join(__dirname, '..'));
  process.exit(2);
}
require(hugePages)
  .relaunchWithHugePages()
  .then((code) => {
    if (code === undefined) require(cli);
    else process.exitCode = code;
  });
