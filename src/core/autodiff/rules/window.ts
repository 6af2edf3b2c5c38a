// Shared by the gradients of windowed ops (Conv, ConvTranspose, pooling): their attributes, the
// begin padding of auto_pad SAME computed at run time, and the crop/pad that maps a transposed
// window sum back onto the input's extent. Reference: the ONNX Conv/Pool specs (auto_pad, pads)
// and onnxruntime's ComputePadAndOutputShape.
import { attrInt, attrInts, attrString } from '../../onnx/graph';
import { NodeProto } from '../../onnx/proto';
import { Emitter, attr } from '../emitter';
import { RuleContext } from '../rule';

export interface Window {
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** Explicit pads [begin..., end...]; zeros under auto_pad. */
  pads: number[];
  /** NOTSET, VALID, SAME_UPPER or SAME_LOWER. */
  autoPad: string;
}

export function windowOf(node: NodeProto, kernel: number[]): Window {
  const nd = kernel.length;
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  return {
    kernel,
    strides: attrInts(node, 'strides') ?? new Array(nd).fill(1),
    dilations: attrInts(node, 'dilations') ?? new Array(nd).fill(1),
    pads: autoPad === 'NOTSET' ? (attrInts(node, 'pads') ?? new Array(2 * nd).fill(0)) : new Array(2 * nd).fill(0),
    autoPad,
  };
}

export const isSame = (w: Window): boolean => w.autoPad === 'SAME_UPPER' || w.autoPad === 'SAME_LOWER';

/** Extent of a dilated kernel: (k - 1)·d + 1. */
export const effectiveKernel = (w: Window): number[] => w.kernel.map((k, i) => (k - 1) * w.dilations[i] + 1);

/** Pads that apply only the begin padding (the end is fitted to the input's extent afterwards). */
export function beginPadsOnly(w: Window): number[] {
  const nd = w.kernel.length;
  return [...w.pads.slice(0, nd), ...new Array(nd).fill(0)];
}

/** strides, dilations and pads as attributes of a ConvTranspose/Conv over the same window. */
export function windowAttributes(w: Window, pads: number[] = w.pads): ReturnType<typeof attr.int>[] {
  return [attr.ints('strides', w.strides), attr.ints('dilations', w.dilations), attr.ints('pads', pads)];
}

export function groupOf(node: NodeProto): number {
  return attrInt(node, 'group', 1);
}

/**
 * Begin padding of auto_pad SAME_UPPER/SAME_LOWER at run time (1-D int64, one per spatial axis):
 * total = max(0, (out - 1)·s + k_eff - in), begin = ⌊total/2⌋ (UPPER) or ⌈total/2⌉ (LOWER).
 */
export function samePadBegin(emit: Emitter, w: Window, input: string, output: string): string {
  const inSize = emit.shapeSlice(input, 2);
  const outSize = emit.shapeSlice(output, 2);
  const strides = emit.ints(w.strides);
  const reach = emit.op('Add', [emit.op('Mul', [emit.op('Sub', [outSize, emit.ints(w.strides.map(() => 1))]), strides]), emit.ints(effectiveKernel(w))]);
  const raw = emit.op('Sub', [reach, inSize]);
  const zero = emit.ints(w.strides.map(() => 0));
  const total = emit.op('Where', [emit.op('Less', [raw, zero]), zero, raw]);
  const half = emit.op('Div', [total, emit.ints(w.strides.map(() => 2))]);
  return w.autoPad === 'SAME_UPPER' ? half : emit.op('Sub', [total, half]);
}

/**
 * Maps a tensor whose spatial axes start at input coordinate -begin onto the spatial extent of
 * `like`: crops (negative Pad) or zero-pads at both ends. `begin` is static numbers or a 1-D int64
 * tensor computed at run time.
 */
export function fitSpatial(ctx: RuleContext, t: string, like: string, begin: number[] | string): string {
  const { emit } = ctx;
  const lead = emit.ints([0, 0]);
  const beginVector = typeof begin === 'string' ? begin : emit.ints(begin);
  const beginPads = emit.op('Concat', [lead, emit.op('Neg', [beginVector])], [attr.int('axis', 0)]);
  const endSpatial = emit.op('Sub', [emit.op('Add', [emit.shapeSlice(like, 2), beginVector]), emit.shapeSlice(t, 2)]);
  const endPads = emit.op('Concat', [lead, endSpatial], [attr.int('axis', 0)]);
  return emit.op('Pad', [t, emit.op('Concat', [beginPads, endPads], [attr.int('axis', 0)])]);
}
