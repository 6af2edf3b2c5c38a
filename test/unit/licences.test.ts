// The licences of the packages bundled into dist/: each one must allow shipping it inside a
// closed .vsix next to our MIT code, and each one's text must travel with it.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';

const NOTICES = path.join(__dirname, '..', '..', '..', 'dist', 'THIRD-PARTY-NOTICES.txt');

// Permissive licences, plus EPL-2.0 (elkjs, chosen from its "EPL-2.0 OR GPL-3.0-or-later"):
// EPL-2.0 is weak copyleft per file, so bundling the unmodified package with its licence and a
// pointer to its source (npm) meets it; GPL alone would not be allowed here.
const ALLOWED = new Set(['MIT', 'ISC', '0BSD', 'BSD-2-Clause', 'BSD-3-Clause', 'Apache-2.0', 'EPL-2.0']);

function bundled(): { name: string; license: string }[] {
  const text = fs.readFileSync(NOTICES, 'utf8');
  const list = text.split('\n\n')[1];
  return list.split('\n').map((line) => {
    const at = line.lastIndexOf(': ');
    return { name: line.slice(0, at), license: line.slice(at + 2) };
  });
}

describe('Bundled licences (dist/THIRD-PARTY-NOTICES.txt)', () => {
  it('lists the packages the bundles carry, each under a licence we may ship', () => {
    const packages = bundled();
    const names = packages.map((p) => p.name.replace(/@[^@]+$/, ''));
    // The bundles' known dependencies must be found, or the list is not read from the build.
    for (const expected of ['pngjs', 'jpeg-js', 'protobufjs', 'elkjs']) assert.ok(names.includes(expected), `${expected} is not in the notices`);
    assert.ok(!names.includes('onnxruntime-node'), 'onnxruntime-node is external (shipped as its own package), not bundled');
    for (const p of packages) {
      const options = p.license.replace(/[()]/g, '').split(' OR ');
      assert.ok(
        options.some((o) => ALLOWED.has(o.trim())),
        `${p.name}: licence '${p.license}' is not on the allowed list`,
      );
    }
  });

  it("carries each package's licence text", () => {
    const text = fs.readFileSync(NOTICES, 'utf8');
    for (const p of bundled()) {
      const at = text.indexOf(`${p.name} (${p.license})`);
      assert.ok(at > 0, `no licence text for ${p.name}`);
      assert.doesNotMatch(text.slice(at, at + 400), /\(no licence file/, `${p.name} ships without a licence file`);
    }
  });
});
