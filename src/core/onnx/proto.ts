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

export function encodeModel(model: ModelProto): Uint8Array {
  return ModelType.encode(ModelType.fromObject(model)).finish();
}
