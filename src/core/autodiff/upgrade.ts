// Raises a model of opset 7–10 to opset 11, the oldest the gradient rules emit, converting the
// ops whose meaning or form changed in between; every other op of the default domain kept its
// meaning (versions 7–11 only added types, negative axes or optional inputs with the old default).
//   Clip-6 (min/max attributes)        → Clip-11 with min/max inputs
//   Pad-2 (pads/value attributes)      → Pad-11 with pads/constant_value inputs
//   Slice-1 (starts/ends/axes attrs)   → Slice-10 inputs
//   TopK-1 (k attribute)               → TopK-11 with a k input
//   Upsample-7/9, Resize-10            → Resize-11, coordinate_transformation_mode 'asymmetric'
//                                        (and nearest_mode 'floor'): x_in = x_out / scale
//   Scatter-9                          → ScatterElements-11 (same semantics, renamed)
// Reference: the ONNX version converter (onnx/version_converter/adapters: clip_10_11, pad_10_11,
// slice_9_10, topk_9_10, upsample_9_10, resize_10_11, scatter_10_11).
import { attrFloat, attrFloats, attrInt, attrInts, attrString, onnxOpset } from '../onnx/graph';
import { tensorToProto } from '../onnx/initializers';
import { AttributeProto, DataType, GraphProto, ModelProto, NodeProto, TensorProto } from '../onnx/proto';
import { elementTypes } from '../onnx/types';
import { attr } from './emitter';
import { GradientRequestError } from './rule';

export const UPGRADE_TARGET = 11;
const OLDEST_UPGRADABLE = 7;
// Opset 11 needs IR version 6.
const IR_VERSION_OF_OPSET_11 = 6;

export function upgradeToOpset11(model: ModelProto): ModelProto {
  const opset = onnxOpset(model);
  if (opset >= UPGRADE_TARGET) return model;
  if (opset < OLDEST_UPGRADABLE) {
    throw new GradientRequestError(`gradient models need ONNX opset ${UPGRADE_TARGET} or later, and opset ${opset} is too old to convert (re-export the model with a newer opset)`);
  }
  const graph = model.graph as GraphProto;
  const types = elementTypes(graph);
  const added: TensorProto[] = [];
  const used = new Set([...graph.node.flatMap((n) => n.output), ...(graph.initializer ?? []).map((t) => t.name ?? ''), ...(graph.input ?? []).map((v) => v.name)]);
  const constant = (base: string, tensor: Parameters<typeof tensorToProto>[1]): string => {
    let name = base;
    for (let i = 1; used.has(name); i++) name = `${base}_${i}`;
    used.add(name);
    added.push(tensorToProto(name, tensor));
    return name;
  };
  const int64s = (base: string, values: number[]) => constant(base, { dtype: 'int64', dims: [values.length], data: BigInt64Array.from(values.map((v) => BigInt(v))) });
  const scalarLike = (base: string, value: number, of: string) =>
    types.get(of) === DataType.DOUBLE
      ? constant(base, { dtype: 'float64', dims: [], data: Float64Array.of(value) })
      : constant(base, { dtype: 'float32', dims: [], data: Float32Array.of(value) });

  const convert = (node: NodeProto): NodeProto => {
    if (node.domain && node.domain !== 'ai.onnx') return node;
    const label = node.name || node.output[0];
    const without = (...names: string[]): AttributeProto[] => (node.attribute ?? []).filter((a) => !names.includes(a.name));
    switch (node.op_type) {
      case 'Clip': {
        const min = attrFloat(node, 'min');
        const max = attrFloat(node, 'max');
        const bounds = [min === undefined ? '' : scalarLike(`${label}/min`, min, node.input[0]), max === undefined ? '' : scalarLike(`${label}/max`, max, node.input[0])];
        while (bounds.length > 0 && bounds[bounds.length - 1] === '') bounds.pop();
        return { ...node, input: [node.input[0], ...bounds], attribute: without('min', 'max') };
      }
      case 'Pad': {
        const pads = int64s(`${label}/pads`, attrInts(node, 'pads') ?? []);
        return { ...node, input: [node.input[0], pads, scalarLike(`${label}/value`, attrFloat(node, 'value', 0), node.input[0])], attribute: without('pads', 'value') };
      }
      case 'Slice': {
        if (opset >= 10) return node;
        const starts = attrInts(node, 'starts') ?? [];
        const axes = attrInts(node, 'axes');
        const inputs = [int64s(`${label}/starts`, starts), int64s(`${label}/ends`, attrInts(node, 'ends') ?? []), ...(axes ? [int64s(`${label}/axes`, axes)] : [])];
        return { ...node, input: [node.input[0], ...inputs], attribute: [] };
      }
      case 'TopK': {
        if (opset >= 10) return node;
        return { ...node, input: [node.input[0], int64s(`${label}/k`, [attrInt(node, 'k', 1)])], attribute: without('k') };
      }
      case 'Upsample':
      case 'Resize': {
        const listed = attrFloats(node, 'scales') ?? [];
        const scales = node.input[1] || constant(`${label}/scales`, { dtype: 'float32', dims: [listed.length], data: Float32Array.from(listed) });
        const mode = attrString(node, 'mode', 'nearest') === 'nearest' ? 'nearest' : 'linear';
        const modes = [
          attr.string('mode', mode),
          attr.string('coordinate_transformation_mode', 'asymmetric'),
          ...(mode === 'nearest' ? [attr.string('nearest_mode', 'floor')] : []),
        ];
        const roi = constant(`${label}/roi`, { dtype: 'float32', dims: [0], data: new Float32Array(0) });
        return { ...node, op_type: 'Resize', input: [node.input[0], roi, scales], attribute: modes };
      }
      case 'Scatter':
        return { ...node, op_type: 'ScatterElements' };
      case 'BatchNormalization':
        if (attrInt(node, 'spatial', 1) !== 1) {
          throw new GradientRequestError(`node ${label}: BatchNormalization with spatial=0 (opset ${opset}) cannot be converted to opset ${UPGRADE_TARGET}`);
        }
        return { ...node, attribute: without('spatial') };
      default:
        return node;
    }
  };

  const node = graph.node.map(convert);
  return {
    ...model,
    ir_version: Math.max(Number(model.ir_version ?? 0), IR_VERSION_OF_OPSET_11),
    opset_import: (model.opset_import ?? []).map((o) => (!o.domain || o.domain === 'ai.onnx' ? { ...o, version: UPGRADE_TARGET } : o)),
    graph: { ...graph, node, initializer: [...(graph.initializer ?? []), ...added] },
  };
}
