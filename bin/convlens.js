#!/usr/bin/env node
// The ConvLens command-line tool; the bundle is built by `npm install` (prepare) or `npm run build`.
const path = require('path');
const fs = require('fs');
const cli = path.join(__dirname, '..', 'dist', 'cli.js');
if (!fs.existsSync(cli)) {
  console.error('convlens: the CLI is not built yet; run `npm run build` in ' + path.join(__dirname, '..'));
  process.exit(2);
}
require(cli);
