// Regenerates src/core/onnx/onnx.schema.ts from the compiled ONNX descriptor that the npm
// package onnx-buf ships (its FileDescriptorProto), through protobufjs's descriptor extension.
// Usage: npm pack onnx-buf && tar xzf onnx-buf-*.tgz && node scripts/onnx-schema.mjs package/dist/onnx_pb.js
import { readFileSync, writeFileSync } from 'fs';
import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor.js';

const source = readFileSync(process.argv[2], 'utf8');
const encoded = /fileDesc\("([^"]*)"/.exec(source)[1];
const file = descriptor.FileDescriptorProto.decode(Buffer.from(encoded, 'base64'));
const json = JSON.stringify(protobuf.Root.fromDescriptor({ file: [file] }).toJSON());
writeFileSync(
  'src/core/onnx/onnx.schema.ts',
  [
    '// The ONNX 1.20 schema (onnx.proto, Apache-2.0, ONNX Project Contributors) as a protobufjs JSON',
    '// descriptor. Regenerate with `node scripts/onnx-schema.mjs` when ONNX adds fields.',
    '/* eslint-disable */',
    `export default ${json} as const;`,
    '',
  ].join('\n'),
);
