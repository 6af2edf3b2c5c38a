// convlens faithfulness --box / --mask / --mask-value / --tolerance on the shapes sample: a box and
// a mask PNG of the same pixels give the same region scores, and wrong flags get one sentence.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PNG } from 'pngjs';
import { faithfulnessCommand } from '../../src/cli/commands/explain';

const ROOT = path.join(__dirname, '..', '..', '..');
const MODEL = path.join(ROOT, 'sample', 'shapes.onnx');
const IMAGE = path.join(ROOT, 'sample', 'dataset', 'test', 'circle', '0.png');
const BOX = JSON.parse(fs.readFileSync(path.join(ROOT, 'sample', 'dataset', 'boxes.json'), 'utf8')).images['test/circle/0.png'].bbox as number[];

interface Row {
  method: string;
  region?: { pointingHit: boolean; peak: { x: number; y: number }; iou: number; area: number; threshold: number; energyInside: number };
  notes: string[];
}

/** Runs the command with --json and returns what it printed. */
async function run(args: string[]): Promise<Row[]> {
  const chunks: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string) => chunks.push(String(chunk)) > 0) as typeof process.stdout.write;
  try {
    await faithfulnessCommand([MODEL, IMAGE, '--method', 'gradcam,saliency', '--steps', '4', '--json', ...args]);
  } finally {
    process.stdout.write = write;
  }
  return JSON.parse(chunks.join(''));
}

/** A 64×64 grey PNG: `inside` where the box (exclusive ends) is, `outside` elsewhere. */
function maskPng(file: string, inside: number, outside: number): string {
  const png = new PNG({ width: 64, height: 64 });
  const [x0, y0, x1, y1] = BOX;
  for (let y = 0; y < 64; y++) {
    for (let x = 0; x < 64; x++) {
      const v = x >= x0 && x < x1 && y >= y0 && y < y1 ? inside : outside;
      png.data.set([v, v, v, 255], (y * 64 + x) * 4);
    }
  }
  fs.writeFileSync(file, PNG.sync.write(png));
  return file;
}

describe('cli: faithfulness against a known box or mask', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-region-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a box and a mask of the same pixels give the same pointing game, IoU and energy', async () => {
    const byBox = await run(['--box', BOX.join(',')]);
    const byMask = await run(['--mask', maskPng(path.join(dir, 'mask.png'), 255, 0)]);
    const byValue = await run(['--mask', maskPng(path.join(dir, 'labels.png'), 1, 2), '--mask-value', '1']);
    const area = (BOX[2] - BOX[0]) * (BOX[3] - BOX[1]);
    for (const rows of [byBox, byMask, byValue]) {
      assert.deepStrictEqual(
        rows.map((r) => r.method),
        ['gradcam', 'saliency'],
      );
      assert.strictEqual(rows[0].region!.area, area);
      assert.deepStrictEqual(
        rows.map((r) => r.region),
        byBox.map((r) => r.region),
      );
    }
    for (const r of byBox) {
      const { iou, energyInside } = r.region!;
      assert.ok(iou > 0 && iou <= 1 && energyInside > 0 && energyInside <= 1, JSON.stringify(r.region));
      assert.ok(r.notes.some((n) => n.includes('k = its area')));
    }
    // The sample classifier's Grad-CAM peaks on the circle it calls a circle.
    assert.strictEqual(byBox[0].region!.pointingHit, true);
  });

  it('a tolerance turns a near miss into a hit', async () => {
    // A 1-pixel box 3 px right of the Grad-CAM peak: a miss, a hit with --tolerance 3.
    const { peak } = (await run(['--box', BOX.join(',')]))[0].region!;
    const x = Math.min(63, peak.x + 3);
    const box = `${x},${peak.y},${x + 1},${peak.y + 1}`;
    assert.strictEqual((await run(['--box', box]))[0].region!.pointingHit, false);
    assert.strictEqual((await run(['--box', box, '--tolerance', '3']))[0].region!.pointingHit, true);
  });

  it('refuses conflicting or malformed regions in one sentence', async () => {
    const mask = maskPng(path.join(dir, 'm.png'), 255, 0);
    await assert.rejects(run(['--box', BOX.join(','), '--mask', mask]), { message: 'give --mask or --box, not both' });
    await assert.rejects(run(['--mask-value', '1']), { message: '--mask-value needs --mask FILE.png' });
    await assert.rejects(run(['--box', '10,10,5,20']), { message: "--box takes X0,Y0,X1,Y1 with X1 > X0 and Y1 > Y0 (ends exclusive), got '10,10,5,20'" });
    await assert.rejects(run(['--box', '1,2,3']), { message: "--box takes 4 comma-separated numbers, got '1,2,3'" });
    await assert.rejects(run(['--box', '100,100,120,120']), { message: "the mask or box has no pixels on the model's input (after its resize and crop)" });
    const wrongSize = path.join(dir, 'small.png');
    fs.writeFileSync(wrongSize, PNG.sync.write(new PNG({ width: 8, height: 8 })));
    await assert.rejects(run(['--mask', wrongSize]), { message: 'the mask small.png is 8×8 but the input is 64×64' });
  });
});
