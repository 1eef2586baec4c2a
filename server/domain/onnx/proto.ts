import protobuf from "protobufjs";

// The subset of onnx.proto (upstream field numbers, onnx/onnx) needed to write ranking models:
// enough for MatMul/Add graphs and ai.onnx.ml tree ensembles. Encoded with protobufjs.

const descriptor = {
  nested: {
    onnx: {
      nested: {
        ModelProto: {
          fields: {
            irVersion: { type: "int64", id: 1 },
            opsetImport: { rule: "repeated", type: "OperatorSetIdProto", id: 8 },
            producerName: { type: "string", id: 2 },
            producerVersion: { type: "string", id: 3 },
            domain: { type: "string", id: 4 },
            modelVersion: { type: "int64", id: 5 },
            docString: { type: "string", id: 6 },
            graph: { type: "GraphProto", id: 7 },
            metadataProps: { rule: "repeated", type: "StringStringEntryProto", id: 14 },
          },
        },
        OperatorSetIdProto: { fields: { domain: { type: "string", id: 1 }, version: { type: "int64", id: 2 } } },
        StringStringEntryProto: { fields: { key: { type: "string", id: 1 }, value: { type: "string", id: 2 } } },
        GraphProto: {
          fields: {
            node: { rule: "repeated", type: "NodeProto", id: 1 },
            name: { type: "string", id: 2 },
            initializer: { rule: "repeated", type: "TensorProto", id: 5 },
            docString: { type: "string", id: 10 },
            input: { rule: "repeated", type: "ValueInfoProto", id: 11 },
            output: { rule: "repeated", type: "ValueInfoProto", id: 12 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: "repeated", type: "string", id: 1 },
            output: { rule: "repeated", type: "string", id: 2 },
            name: { type: "string", id: 3 },
            opType: { type: "string", id: 4 },
            attribute: { rule: "repeated", type: "AttributeProto", id: 5 },
            docString: { type: "string", id: 6 },
            domain: { type: "string", id: 7 },
          },
        },
        AttributeProto: {
          fields: {
            name: { type: "string", id: 1 },
            f: { type: "float", id: 2 },
            i: { type: "int64", id: 3 },
            s: { type: "bytes", id: 4 },
            t: { type: "TensorProto", id: 5 },
            floats: { rule: "repeated", type: "float", id: 7, options: { packed: true } },
            ints: { rule: "repeated", type: "int64", id: 8, options: { packed: true } },
            strings: { rule: "repeated", type: "bytes", id: 9 },
            type: { type: "int32", id: 20 },
          },
        },
        TensorProto: {
          fields: {
            dims: { rule: "repeated", type: "int64", id: 1, options: { packed: true } },
            dataType: { type: "int32", id: 2 },
            floatData: { rule: "repeated", type: "float", id: 4, options: { packed: true } },
            int64Data: { rule: "repeated", type: "int64", id: 7, options: { packed: true } },
            name: { type: "string", id: 8 },
            rawData: { type: "bytes", id: 9 },
          },
        },
        ValueInfoProto: { fields: { name: { type: "string", id: 1 }, type: { type: "TypeProto", id: 2 }, docString: { type: "string", id: 3 } } },
        TypeProto: { fields: { tensorType: { type: "TypeProtoTensor", id: 1 } } },
        TypeProtoTensor: { fields: { elemType: { type: "int32", id: 1 }, shape: { type: "TensorShapeProto", id: 2 } } },
        TensorShapeProto: { fields: { dim: { rule: "repeated", type: "Dimension", id: 1 } } },
        Dimension: { fields: { dimValue: { type: "int64", id: 1 }, dimParam: { type: "string", id: 2 } } },
      },
    },
  },
};

const root = protobuf.Root.fromJSON(descriptor);
const ModelProto = root.lookupType("onnx.ModelProto");

export const TensorType = { FLOAT: 1, INT64: 7 } as const;
export const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;

export type Dim = number | string;

export interface ValueInfo { name: string; elemType?: number; shape: Dim[] }

export function valueInfo({ name, elemType = TensorType.FLOAT, shape }: ValueInfo) {
  return {
    name,
    type: { tensorType: { elemType, shape: { dim: shape.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) } } },
  };
}

/** Float tensors travel as raw little-endian bytes: compact, and fast to encode for large weights. */
export function floatTensor(name: string, dims: number[], values: ArrayLike<number>) {
  const data = Float32Array.from(values);
  const raw = new Uint8Array(data.length * 4);
  const view = new DataView(raw.buffer);
  data.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return { name, dims, dataType: TensorType.FLOAT, rawData: raw };
}

export function int64Tensor(name: string, dims: number[], values: number[]) {
  return { name, dims, dataType: TensorType.INT64, int64Data: values };
}

type AttrValue = number | string | number[] | string[] | { floats: number[] } | { ints: number[] };

/** Attributes by JS value: integers → INT, other numbers → FLOAT, {floats}/{ints} → lists. */
export function attribute(name: string, value: AttrValue) {
  if (typeof value === "string") return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value) };
  if (typeof value === "number") return Number.isInteger(value) ? { name, type: AttributeType.INT, i: value } : { name, type: AttributeType.FLOAT, f: value };
  if (Array.isArray(value) && typeof value[0] === "string") return { name, type: AttributeType.STRINGS, strings: (value as string[]).map((s) => new TextEncoder().encode(s)) };
  if ("floats" in (value as object)) return { name, type: AttributeType.FLOATS, floats: (value as { floats: number[] }).floats };
  if ("ints" in (value as object)) return { name, type: AttributeType.INTS, ints: (value as { ints: number[] }).ints };
  throw new Error(`attribute ${name}: say {floats} or {ints} for a numeric list`);
}

export interface NodeSpec { opType: string; inputs: string[]; outputs: string[]; name?: string; domain?: string; attributes?: ReturnType<typeof attribute>[] }

export interface ModelSpec {
  graphName: string;
  nodes: NodeSpec[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  initializers?: ReturnType<typeof floatTensor | typeof int64Tensor>[];
  opsets: Array<{ domain: string; version: number }>;
  irVersion?: number;
  docString?: string;
  metadata?: Record<string, string>;
}

export function encodeModel(spec: ModelSpec): Uint8Array {
  const message = ModelProto.fromObject({
    irVersion: spec.irVersion ?? 8,
    producerName: "rerank-console",
    producerVersion: "1",
    opsetImport: spec.opsets,
    docString: spec.docString ?? "",
    metadataProps: Object.entries(spec.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: spec.graphName,
      node: spec.nodes.map((n, i) => ({
        input: n.inputs, output: n.outputs, name: n.name ?? `${n.opType}_${i}`, opType: n.opType, domain: n.domain ?? "", attribute: n.attributes ?? [],
      })),
      initializer: spec.initializers ?? [],
      input: spec.inputs.map(valueInfo),
      output: spec.outputs.map(valueInfo),
    },
  });
  return ModelProto.encode(message).finish();
}

/** A decoded node's attribute, as protobufjs reads it (int64s as numbers, strings as bytes). */
export interface DecodedAttribute { name: string; f?: number; i?: number; s?: Uint8Array; floats?: number[]; ints?: number[]; strings?: Uint8Array[] }
export interface DecodedNode { opType: string; domain?: string; input: string[]; output: string[]; attribute?: DecodedAttribute[] }

/** Reads a model's graph nodes (the fields encodeModel writes). @throws when the bytes are not an ONNX ModelProto. */
export function decodeModelNodes(bytes: Uint8Array): DecodedNode[] {
  const model = ModelProto.toObject(ModelProto.decode(bytes), { longs: Number, arrays: true }) as { graph?: { node?: DecodedNode[] } };
  return model.graph?.node ?? [];
}
