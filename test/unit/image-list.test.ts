// The images the panel lists first: every folder represented, natural order, grouped by folder.
import * as assert from 'assert';
import * as path from 'path';
import { pickImages } from '../../src/extension/image-list';

describe('pickImages: the workspace images the panel offers', () => {
  const root = path.join(path.sep, 'ws');
  const at = (...parts: string[]) => path.join(root, ...parts);
  // The sample's layout: a shortcut dataset with many numbered images sorts before sample/images.
  const files = [
    ...Array.from({ length: 40 }, (_, i) => at('sample', 'dataset-shortcut', 'counter', `${i}.png`)),
    ...Array.from({ length: 12 }, (_, i) => at('sample', 'dataset', 'test', 'circle', `${i}.png`)),
    at('sample', 'images', 'circle.png'),
    at('sample', 'images', 'square.png'),
    at('other', 'photo.jpg'),
  ];

  it('lists every folder near the model, the shallow ones first, before folders elsewhere', () => {
    const picked = pickImages(files, 24, at('sample'));
    assert.strictEqual(picked.length, 24);
    const folders = [...new Set(picked.map((f) => path.relative(root, path.dirname(f))))];
    assert.deepStrictEqual(folders, [path.join('sample', 'images'), path.join('sample', 'dataset-shortcut', 'counter'), path.join('sample', 'dataset', 'test', 'circle')]);
    assert.deepStrictEqual(picked.slice(0, 2), [at('sample', 'images', 'circle.png'), at('sample', 'images', 'square.png')]);
  });

  it('takes files from each folder in turn and in natural order (2 before 10), without duplicates', () => {
    const picked = pickImages(files, 24, at('sample'));
    const counter = picked.filter((f) => f.includes('counter')).map((f) => path.basename(f));
    assert.deepStrictEqual(
      counter,
      Array.from({ length: 11 }, (_, i) => `${i}.png`),
    );
    assert.strictEqual(picked.filter((f) => f.includes('circle' + path.sep)).length, 11);
    assert.strictEqual(new Set(picked).size, picked.length);
  });

  it('returns all files when there are fewer than the limit', () => {
    assert.strictEqual(pickImages(files, 1000, at('sample')).length, files.length);
    assert.deepStrictEqual(pickImages([], 24), []);
  });
});
