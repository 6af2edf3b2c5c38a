// The ONNX protobuf schema (ONNX 1.20, IR v11: node metadata_props, external data, functions)
// on protobufjs. Decoding yields plain objects with snake_case fields and int64 as numbers,
// typed by the interfaces below, so the rest of the core never sees protobuf runtime types.
import * as protobuf from 'protobufjs';
import schema from './onnx.schema';

export enum DataType {
  UNDEFINED = 0,
  FLOAT = 1,
  UINT8 = 2,
  INT8 = 3,
  UINT16 = 4,
  INT16 = 5,
  INT32 = 6,
  INT64 = 7,
  STRING = 8,
  BOOL = 9,
  FLOAT16 = 10,
  DOUBLE = 11,
  UINT32 = 12,
  UINT64 = 13,
  BFLOAT16 = 16,
}

export enum AttributeType {
  UNDEFINED = 0,
  FLOAT = 1,
  INT = 2,
  STRING = 3,
  TENSOR = 4,
  GRAPH = 5,
  FLOATS = 6,
  INTS = 7,
  STRINGS = 8,
  TENSORS = 9,
  GRAPHS = 10,
}

export interface StringStringEntryProto {
  key?: string;
  value?: string;
}
export interface OperatorSetIdProto {
  domain?: string;
  version?: number;
}

export interface TensorProto {
  name?: string;
  dims?: number[];
  data_type?: number;
  raw_data?: Uint8Array;
  float_data?: number[];
  int32_data?: number[];
  int64_data?: number[];
  double_data?: number[];
  uint64_data?: number[];
  string_data?: Uint8Array[];
  external_data?: StringStringEntryProto[];
  /** 1 = EXTERNAL */
  data_location?: number;
  doc_string?: string;
}

export interface AttributeProto {
  name: string;
  type?: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: TensorProto;
  g?: GraphProto;
  floats?: number[];
  ints?: number[];
  strings?: Uint8Array[];
  tensors?: TensorProto[];
  graphs?: GraphProto[];
  doc_string?: string;
}

export interface NodeProto {
  input: string[];
  output: string[];
  name?: string;
  op_type: string;
  domain?: string;
  attribute?: AttributeProto[];
  doc_string?: string;
  metadata_props?: StringStringEntryProto[];
}

export interface DimensionProto {
  dim_value?: number;
  dim_param?: string;
  denotation?: string;
}
export interface TensorShapeProto {
  dim?: DimensionProto[];
}
export interface TypeProto {
  tensor_type?: { elem_type?: number; shape?: TensorShapeProto };
  denotation?: string;
}
export interface ValueInfoProto {
  name: string;
  type?: TypeProto;
  doc_string?: string;
  metadata_props?: StringStringEntryProto[];
}

export interface GraphProto {
  name?: string;
  node: NodeProto[];
  initializer?: TensorProto[];
  input?: ValueInfoProto[];
  output?: ValueInfoProto[];
  value_info?: ValueInfoProto[];
  doc_string?: string;
  metadata_props?: StringStringEntryProto[];
}

export interface ModelProto {
  ir_version?: number;
  opset_import?: OperatorSetIdProto[];
  producer_name?: string;
  producer_version?: string;
  domain?: string;
  model_version?: number;
  doc_string?: string;
  graph?: GraphProto;
  metadata_props?: StringStringEntryProto[];
  functions?: unknown[];
}

export class OnnxFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OnnxFormatError';
  }
}

const root = protobuf.Root.fromJSON(schema as unknown as protobuf.INamespace);
const ModelType = root.lookupType('onnx.ModelProto');

const toPlain: protobuf.IConversionOptions = { longs: Number, enums: Number, arrays: true, defaults: false };

/** Decodes an ONNX model; throws OnnxFormatError naming what is wrong instead of a protobuf trace. */
export function decodeModel(bytes: Uint8Array): ModelProto {
  let message: protobuf.Message;
  try {
    message = ModelType.decode(bytes);
  } catch (err) {
    throw new OnnxFormatError(`not a valid ONNX model: the protobuf data is corrupt (${(err as Error).message})`);
  }
  const model = ModelType.toObject(message, toPlain) as ModelProto;
  if (!model.graph || !model.graph.node || model.graph.node.length === 0) {
    throw new OnnxFormatError('not a valid ONNX model: it has no graph nodes');
  }
  if (!model.opset_import || model.opset_import.length === 0) {
    throw new OnnxFormatError('not a valid ONNX model: it declares no opset');
  }
  for (const graphList of ['node', 'initializer', 'input', 'output', 'value_info'] as const) {
    model.graph[graphList] ??= [] as never;
  }
  for (const node of model.graph.node) {
    node.input ??= [];
    node.output ??= [];
    node.attribute ??= [];
  }
  return model;
}

/**
 * The protobuf bytes of a model. The plain object is encoded as it is: its fields already have the
 * types the encoder writes (int64 as numbers, bytes as Uint8Array, enums as numbers), and
 * protobufjs's fromObject would only copy it first, with a Long object for every int64. The bytes
 * are the same (onnx-encode-reusing.test.ts holds decoded and built models to it).
 */
export function encodeModel(model: ModelProto): Uint8Array {
  return ModelType.encode(model as protobuf.Message).finish();
}

/** A model and the bytes it was decoded from (or encoded to). */
export interface EncodedModel {
  proto: ModelProto;
  bytes: Uint8Array;
}

// ModelProto.graph and GraphProto.initializer, length-delimited (protobuf wire type 2).
const GRAPH_FIELD = 7;
const INITIALIZER_FIELD = 5;
// TensorProto.raw_data.
const RAW_DATA_FIELD = 9;
const LENGTH_DELIMITED = 2;

/**
 * The bytes of `model`, a variant of `source.proto` (a model with outputs exposed, a gradient
 * model, a sub-model), with the initializers it shares with the source (the same objects) copied
 * from `source.bytes` rather than encoded again: encoding a large model's weights is most of the
 * cost of making a variant's session (resnet18: about 0.45 s per variant). Protobuf merges a
 * message field that appears twice, so the shared initializers follow as a second `graph` field
 * that holds only them; the result decodes to the variant with its initializers reordered.
 */
export function encodeModelReusing(model: ModelProto, source: EncodedModel): Uint8Array {
  const spans = initializerSpans(source);
  const initializers = model.graph?.initializer ?? [];
  const shared = spans ? initializers.map((t) => spans.get(t)) : [];
  if (!spans || !model.graph || shared.every((span) => !span)) return encodeModel(model);
  const head = encodeModel({ ...model, graph: { ...model.graph, initializer: initializers.filter((_t, i) => !shared[i]) } });
  const copied = shared.filter((span): span is [number, number] => !!span);
  const length = copied.reduce((sum, [start, end]) => sum + end - start, 0);
  const tag = varint((GRAPH_FIELD << 3) | LENGTH_DELIMITED);
  const size = varint(length);
  const out = new Uint8Array(head.length + tag.length + size.length + length);
  out.set(head, 0);
  out.set(tag, head.length);
  out.set(size, head.length + tag.length);
  let at = head.length + tag.length + size.length;
  for (const [start, end] of copied) {
    out.set(source.bytes.subarray(start, end), at);
    at += end - start;
  }
  return out;
}

/** The name under which a variant's external initializers find the source model's bytes (onnxruntime's `externalData`). */
export const SOURCE_WEIGHTS = 'convlens-source-model.onnx';

/** Initializers smaller than this stay in the variant's own bytes. */
const MIN_REFERENCED_BYTES = 4096;

/**
 * The bytes of `model`, a variant of `source.proto`, whose initializers shared with the source (the
 * same objects) hold no data of their own but point, as external data, into `source.bytes` where
 * their raw data lies: a session made with those bytes as SOURCE_WEIGHTS reads them from there, so
 * a variant of a large model is a small message, not a copy of its weights (resnet18: 27 ms of a
 * first call; vgg11: 0.3 s per session). With the bytes pointed into (`referencedBytes`); undefined
 * where the source's bytes cannot be walked as initializerSpans expects, or a large shared weight
 * has no raw_data to point into.
 */
export function encodeModelReferencing(model: ModelProto, source: EncodedModel): { bytes: Uint8Array; referencedBytes: number } | undefined {
  const spans = rawDataSpans(source);
  const whole = initializerSpans(source);
  if (!spans || !whole || !model.graph) return undefined;
  // A large shared weight held otherwise than as raw_data (float_data, from older exporters) would
  // be encoded again here: encodeModelReusing copies it instead.
  const encodedAgain = (t: TensorProto) => !spans.has(t) && (whole.get(t)?.[1] ?? 0) - (whole.get(t)?.[0] ?? 0) >= MIN_REFERENCED_BYTES;
  if ((model.graph.initializer ?? []).some(encodedAgain)) return undefined;
  let referencedBytes = 0;
  const initializer = (model.graph.initializer ?? []).map((t): TensorProto => {
    const span = spans.get(t);
    if (!span || span[1] - span[0] < MIN_REFERENCED_BYTES) return t;
    referencedBytes += span[1] - span[0];
    const external_data = [
      { key: 'location', value: SOURCE_WEIGHTS },
      { key: 'offset', value: String(span[0]) },
      { key: 'length', value: String(span[1] - span[0]) },
    ];
    return { name: t.name, dims: t.dims, data_type: t.data_type, data_location: 1, external_data };
  });
  return { bytes: encodeModel({ ...model, graph: { ...model.graph, initializer } }), referencedBytes };
}

const rawSpansOf = new WeakMap<ModelProto, Map<TensorProto, [number, number]> | null>();

/** Where each initializer's raw_data lies in `source.bytes` (its value only); null where the wire format is not as initializerSpans expects. */
function rawDataSpans(source: EncodedModel): Map<TensorProto, [number, number]> | null {
  let spans = rawSpansOf.get(source.proto);
  if (spans !== undefined) return spans;
  const whole = initializerSpans(source);
  spans = null;
  if (whole) {
    try {
      spans = new Map();
      for (const [t, [start, end]] of whole) {
        const body = fields(source.bytes, start, end)[0];
        const raw = body && fields(source.bytes, body.valueStart, body.end).filter((f) => f.field === RAW_DATA_FIELD && f.wire === LENGTH_DELIMITED);
        if (raw?.length === 1 && t.data_location !== 1) spans.set(t, [raw[0].valueStart, raw[0].end]);
      }
    } catch {
      spans = null;
    }
  }
  rawSpansOf.set(source.proto, spans);
  return spans;
}

const spansOf = new WeakMap<ModelProto, Map<TensorProto, [number, number]> | null>();

/**
 * Where each initializer of `source.proto` lies in `source.bytes` (its whole field: tag, length
 * and message), found by walking the wire format; null where the bytes are not laid out as one
 * graph field whose initializer fields match the decoded list one to one.
 */
function initializerSpans(source: EncodedModel): Map<TensorProto, [number, number]> | null {
  let spans = spansOf.get(source.proto);
  if (spans !== undefined) return spans;
  spans = null;
  try {
    const graphs = fields(source.bytes, 0, source.bytes.length).filter((f) => f.field === GRAPH_FIELD && f.wire === LENGTH_DELIMITED);
    const initializers = source.proto.graph?.initializer ?? [];
    if (graphs.length === 1) {
      const found = fields(source.bytes, graphs[0].valueStart, graphs[0].end).filter((f) => f.field === INITIALIZER_FIELD && f.wire === LENGTH_DELIMITED);
      if (found.length === initializers.length) spans = new Map(initializers.map((t, i) => [t, [found[i].start, found[i].end]]));
    }
  } catch {
    // Bytes this walk does not understand: variants are encoded in full.
  }
  spansOf.set(source.proto, spans);
  return spans;
}

interface WireField {
  field: number;
  wire: number;
  /** The field's first byte (its tag), where its value starts, and the byte after it. */
  start: number;
  valueStart: number;
  end: number;
}

/** The fields of the message in bytes[start, end), with where each lies; throws on a malformed message. */
function fields(bytes: Uint8Array, start: number, end: number): WireField[] {
  const out: WireField[] = [];
  let at = start;
  const readVarint = (): number => {
    let value = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      if (at >= end) throw new Error('truncated varint');
      const byte = bytes[at++];
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
    throw new Error('varint too long');
  };
  while (at < end) {
    const fieldStart = at;
    const tag = readVarint();
    const wire = tag % 8;
    let valueStart = at;
    if (wire === 0) readVarint();
    else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else if (wire === LENGTH_DELIMITED) {
      const length = readVarint();
      valueStart = at;
      at += length;
    } else throw new Error(`wire type ${wire} (groups) not walked`);
    if (at > end) throw new Error('field past the end of its message');
    out.push({ field: Math.floor(tag / 8), wire, start: fieldStart, valueStart, end: at });
  }
  return out;
}

function varint(value: number): Uint8Array {
  const bytes: number[] = [];
  while (value >= 0x80) {
    bytes.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  bytes.push(value);
  return Uint8Array.from(bytes);
}
