// Detection heads: decoding raw outputs into boxes, non-maximum suppression, and the score of one
// box as a differentiable function of the head's output (the explanation target of a detection).
// Two layouts:
// - 'yolo': one output [N, boxes, 4 + 1 + C], each row (cx, cy, w, h, objectness, class scores...);
//   score = obj × cls (YOLOv3/v5 non_max_suppression, best class per box).
// - 'scores': separate outputs, boxes [N, boxes, 4] as (x1, y1, x2, y2) and scores [N, boxes, C]
//   (SSD / RetinaNet exports); score = scores[box, class].
// With `sigmoid`, the head's values are logits and σ is applied to objectness and class scores.
// NMS is per class, as torchvision's batched_nms: a box suppresses lower-scored boxes of its class
// whose IoU with it exceeds the threshold.

export interface DetectionOptions {
  /** Output holding the boxes, for heads with separate boxes and scores outputs (the target's output is then the scores). */
  boxes?: string;
  /** IoU above which NMS suppresses a box (default 0.45). */
  iou?: number;
  /** Scores below this are not detections (default 0.25). */
  minScore?: number;
  /** The head outputs logits: apply σ to objectness and class scores. */
  sigmoid?: boolean;
}

export const DEFAULT_IOU = 0.45;
export const DEFAULT_MIN_SCORE = 0.25;

/** Where a box's score is read in the target output's row. */
export interface DetectionHead {
  layout: 'yolo' | 'scores';
  /** Candidate boxes per image and classes per box. */
  boxes: number;
  classes: number;
  sigmoid: boolean;
}

export interface Detection {
  /** Candidate (row of the head) the box comes from. */
  anchor: number;
  class: number;
  score: number;
  /** (x1, y1, x2, y2) in the head's coordinates. */
  box: [number, number, number, number];
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** The head's layout from the target output's dims (batch first), and the boxes output's when separate. */
export function detectionHead(outputDims: number[], boxesDims: number[] | undefined, useSigmoid: boolean): DetectionHead | string {
  if (boxesDims) {
    if (outputDims.length !== 3 || boxesDims.length !== 3 || boxesDims[2] !== 4 || boxesDims[1] !== outputDims[1]) {
      return `separate detection outputs must be boxes [N, B, 4] and scores [N, B, C]; got [${boxesDims.join(', ')}] and [${outputDims.join(', ')}]`;
    }
    return { layout: 'scores', boxes: outputDims[1], classes: outputDims[2], sigmoid: useSigmoid };
  }
  if (outputDims.length !== 3 || outputDims[2] < 6) {
    return `a YOLO-style detection output is [N, boxes, 4 + 1 + classes]; got [${outputDims.join(', ')}] (for separate boxes and scores outputs, name the boxes output)`;
  }
  return { layout: 'yolo', boxes: outputDims[1], classes: outputDims[2] - 5, sigmoid: useSigmoid };
}

/** Offsets in the row of the objectness (yolo) and of the class score. */
function offsets(head: DetectionHead, anchor: number, cls: number): { obj?: number; cls: number } {
  if (head.layout === 'scores') return { cls: anchor * head.classes + cls };
  const base = anchor * (head.classes + 5);
  return { obj: base + 4, cls: base + 5 + cls };
}

/** The score of class `cls` at candidate `anchor` from one row of the target output. */
export function detectionScore(row: ArrayLike<number>, head: DetectionHead, anchor: number, cls: number): number {
  const f = head.sigmoid ? sigmoid : (z: number) => z;
  const at = offsets(head, anchor, cls);
  return at.obj === undefined ? f(row[at.cls]) : f(row[at.obj]) * f(row[at.cls]);
}

/** ∂ detectionScore / ∂ row, added into `dst` (zero elsewhere). */
export function detectionSeed(row: ArrayLike<number>, head: DetectionHead, anchor: number, cls: number, dst: Float32Array): void {
  const f = head.sigmoid ? sigmoid : (z: number) => z;
  const df = head.sigmoid ? (z: number) => sigmoid(z) * (1 - sigmoid(z)) : () => 1;
  const at = offsets(head, anchor, cls);
  if (at.obj === undefined) {
    dst[at.cls] += df(row[at.cls]);
    return;
  }
  dst[at.obj] += df(row[at.obj]) * f(row[at.cls]);
  dst[at.cls] += f(row[at.obj]) * df(row[at.cls]);
}

/** Every candidate with its best class, scored, at or above `minScore`. `boxes`: the boxes output row for the 'scores' layout. */
export function decodeDetections(row: ArrayLike<number>, head: DetectionHead, minScore: number, boxes?: ArrayLike<number>): Detection[] {
  const found: Detection[] = [];
  for (let anchor = 0; anchor < head.boxes; anchor++) {
    let best = 0;
    let bestScore = -Infinity;
    for (let c = 0; c < head.classes; c++) {
      const s = detectionScore(row, head, anchor, c);
      if (s > bestScore) [best, bestScore] = [c, s];
    }
    if (!(bestScore >= minScore)) continue;
    found.push({ anchor, class: best, score: bestScore, box: head.layout === 'yolo' ? yoloBox(row, anchor * (head.classes + 5)) : cornerBox(boxes!, anchor * 4) });
  }
  return found;
}

function yoloBox(row: ArrayLike<number>, at: number): [number, number, number, number] {
  const [cx, cy, w, h] = [row[at], row[at + 1], row[at + 2], row[at + 3]];
  return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2];
}

function cornerBox(boxes: ArrayLike<number>, at: number): [number, number, number, number] {
  return [boxes[at], boxes[at + 1], boxes[at + 2], boxes[at + 3]];
}

export function intersectionOverUnion(a: Detection['box'], b: Detection['box']): number {
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  const area = (r: Detection['box']) => Math.max(0, r[2] - r[0]) * Math.max(0, r[3] - r[1]);
  return inter / (area(a) + area(b) - inter);
}

/** Per-class NMS: the kept detections, highest score first (ties: lower candidate first). */
export function nonMaxSuppression(detections: Detection[], iou: number): Detection[] {
  const order = [...detections].sort((a, b) => b.score - a.score || a.anchor - b.anchor);
  const kept: Detection[] = [];
  for (const d of order) {
    if (kept.every((k) => k.class !== d.class || intersectionOverUnion(k.box, d.box) <= iou)) kept.push(d);
  }
  return kept;
}

/** IoU a perturbed run's box must exceed to be the explained box (pytorch-grad-cam's FasterRCNNBoxScoreTarget default). */
export const MATCH_IOU = 0.5;

/**
 * The explained box's score in another run of the model (a perturbed input), re-matched as
 * pytorch-grad-cam's FasterRCNNBoxScoreTarget does: of the boxes that run detects (decoded with
 * the same score threshold, then NMS), the one with the highest IoU with the reference box (the
 * first, highest score first, on a tie); its score when that IoU exceeds `matchIou` and its class
 * is the reference's, else 0. A fixed candidate index would keep scoring a row whose box has moved
 * away or whose object is gone. pytorch-grad-cam adds the IoU to the matched score; this does not,
 * so the unperturbed input scores exactly the box's score, the scalar gradient methods
 * differentiate (the difference is a constant 1 for the box itself).
 */
export function matchedBoxScore(
  row: ArrayLike<number>,
  head: DetectionHead,
  reference: Detection,
  options: { minScore: number; iou: number; matchIou?: number },
  boxes?: ArrayLike<number>,
): number {
  const kept = nonMaxSuppression(decodeDetections(row, head, options.minScore, boxes), options.iou);
  let best: Detection | undefined;
  let bestIou = -1;
  for (const d of kept) {
    const iou = intersectionOverUnion(reference.box, d.box);
    if (iou > bestIou) [best, bestIou] = [d, iou];
  }
  return best && bestIou > (options.matchIou ?? MATCH_IOU) && best.class === reference.class ? best.score : 0;
}
