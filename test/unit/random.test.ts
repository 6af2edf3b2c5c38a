import * as assert from 'assert';
import { Random, seededRandom, standardNormal, stringHash } from '../../src/core/random';

describe('seeded random numbers', () => {
  it('seededRandom is mulberry32: the published C code seeded with 42 gives these first words', () => {
    const random = seededRandom(42);
    assert.deepStrictEqual(
      Array.from({ length: 5 }, () => random() * 2 ** 32),
      [2581720956, 1925393290, 3661312704, 2876485805, 750819978],
    );
  });

  it('Random draws its uniforms from the same sequence', () => {
    const uniform = seededRandom(7);
    const random = new Random(7);
    for (let i = 0; i < 100; i++) assert.strictEqual(random.next(), uniform());
  });

  it('Random.normal returns both Box–Muller values of a pair of uniforms, cosine first', () => {
    const uniform = seededRandom(3);
    const random = new Random(3);
    const [u, v] = [uniform(), uniform()];
    const r = Math.sqrt(-2 * Math.log(u));
    assert.strictEqual(random.normal(), r * Math.cos(2 * Math.PI * v));
    assert.strictEqual(random.normal(), r * Math.sin(2 * Math.PI * v));
  });

  it('standardNormal is √(−2 ln(1 − u₁)) · cos 2πu₂', () => {
    const uniforms = [0.75, 0.125];
    assert.strictEqual(
      standardNormal(() => uniforms.shift()!),
      Math.sqrt(-2 * Math.log(0.25)) * Math.cos(Math.PI / 4),
    );
  });

  it('stringHash is FNV-1a 32-bit (test vectors of the FNV authors)', () => {
    assert.deepStrictEqual(['', 'a', 'foobar'].map(stringHash), [0x811c9dc5, 0xe40c292c, 0xbf9cf968]);
  });
});
