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

  it('Random.addNormal adds σ times pairs of the polar method: a·f and b·f, f = √(−2 ln s / s), rejecting points outside the unit disc', () => {
    const uniform = seededRandom(11);
    const expected: number[] = [];
    while (expected.length < 6) {
      const [a, b] = [2 * uniform() - 1, 2 * uniform() - 1];
      const s = a * a + b * b;
      if (s >= 1 || s === 0) continue;
      const f = 0.5 * Math.sqrt((-2 * Math.log(s)) / s);
      expected.push(3 + a * f, 3 + b * f);
    }
    const dst = new Float32Array(5);
    new Random(11).addNormal(dst, [3, 3, 3, 3, 3], 0.5);
    assert.deepStrictEqual([...dst], [...Float32Array.from(expected.slice(0, 5))], 'an odd length drops the second value of the last pair');
  });

  it('Random.addNormal draws standard normals: mean, variance, kurtosis and tails of a million', () => {
    const n = 1_000_000;
    const z = new Float32Array(n);
    new Random(5).addNormal(z, new Float32Array(n), 1);
    let [m1, m2, m4, beyond2] = [0, 0, 0, 0];
    for (const v of z) {
      m1 += v;
      m2 += v * v;
      m4 += v ** 4;
      if (Math.abs(v) > 2) beyond2++;
    }
    // Standard errors at n = 10⁶: mean 0.001, variance 0.0014, fourth moment 0.01, P(|z| > 2) 0.0002.
    assert.ok(Math.abs(m1 / n) < 0.005, `mean ${m1 / n}`);
    assert.ok(Math.abs(m2 / n - 1) < 0.007, `variance ${m2 / n}`);
    assert.ok(Math.abs(m4 / n - 3) < 0.05, `fourth moment ${m4 / n}`);
    assert.ok(Math.abs(beyond2 / n - 0.0455) < 0.001, `P(|z| > 2) ${beyond2 / n}`);
  });

  it('stringHash is FNV-1a 32-bit (test vectors of the FNV authors)', () => {
    assert.deepStrictEqual(['', 'a', 'foobar'].map(stringHash), [0x811c9dc5, 0xe40c292c, 0xbf9cf968]);
  });
});
