import { createHash, randomBytes } from "node:crypto";
import type { Db } from "../db/client";
import type { FeatureSpec } from "../domain/features/featureSpec";
import { encodeModel, floatTensor, int64Tensor } from "../domain/onnx/proto";
import type { ConstraintConfig } from "../domain/constraints/applyConstraints";

// Faulty and slow models for serving tests, and a direct way to wire one to a test surface.
// These bypass the registry's upload checks on purpose: they stand for models that passed them
// and then misbehave in production.

/** Scores fine on one row, throws at run time on any batch whose size is not 1 (a bad Reshape). */
export function failingModelOnnx(features: number): Uint8Array {
  return encodeModel({
    graphName: "fails_on_batches",
    opsets: [{ domain: "", version: 17 }],
    inputs: [{ name: "features", shape: ["N", features] }],
    outputs: [{ name: "score", shape: ["N", 1] }],
    initializers: [floatTensor("W", [features, 1], new Array(features).fill(1)), int64Tensor("shape", [2], [1, 1])],
    nodes: [
      { opType: "MatMul", inputs: ["features", "W"], outputs: ["xw"] },
      { opType: "Reshape", inputs: ["xw", "shape"], outputs: ["score"] },
    ],
  });
}

/**
 * A stack of dense layers: each [N, hidden] × [hidden, hidden] run costs N·hidden² multiply-adds.
 * `seed` shifts the weights' pattern: same cost, different bytes (two versions of one model).
 */
export function slowModelOnnx(features: number, hidden = 1024, layers = 4, seed = 0): Uint8Array {
  const dense = (rows: number, cols: number) => Float32Array.from({ length: rows * cols }, (_, i) => ((i * 7919 + seed) % 13) / 130 - 0.05);
  const nodes = [{ opType: "MatMul", inputs: ["features", "W0"], outputs: ["h0"] }];
  const initializers = [floatTensor("W0", [features, hidden], dense(features, hidden))];
  for (let l = 1; l <= layers; l++) {
    initializers.push(floatTensor(`W${l}`, [hidden, hidden], dense(hidden, hidden)));
    nodes.push({ opType: "MatMul", inputs: [`h${l - 1}`, `W${l}`], outputs: [`h${l}`] });
  }
  initializers.push(floatTensor("Wout", [hidden, 1], dense(hidden, 1)));
  nodes.push({ opType: "MatMul", inputs: [`h${layers}`, "Wout"], outputs: ["score"] });
  return encodeModel({
    graphName: "slow",
    opsets: [{ domain: "", version: 17 }],
    inputs: [{ name: "features", shape: ["N", features] }],
    outputs: [{ name: "score", shape: ["N", 1] }],
    initializers,
    nodes,
  });
}

/** A linear model (weights 0.1·(j+1)) whose scores come out in reverse batch order: a Slice with step −1 before the MatMul (the upload refuses it). */
export function reversedRowsOnnx(width: number): Uint8Array {
  return encodeModel({
    graphName: "reversed_rows",
    opsets: [{ domain: "", version: 17 }],
    inputs: [{ name: "features", shape: ["N", width] }],
    outputs: [{ name: "score", shape: ["N", 1] }],
    initializers: [
      floatTensor("W", [width, 1], Array.from({ length: width }, (_, j) => 0.1 * (j + 1))),
      int64Tensor("starts", [1], [-1]), int64Tensor("ends", [1], [-1_000_000]), int64Tensor("axes", [1], [0]), int64Tensor("steps", [1], [-1]),
    ],
    nodes: [{ opType: "Slice", inputs: ["features", "starts", "ends", "axes", "steps"], outputs: ["reversed"] }, { opType: "MatMul", inputs: ["reversed", "W"], outputs: ["score"] }],
  });
}

/** score = sqrt(c − x[column]): finite while the feature stays at or below c, NaN above it (the upload refuses it when a stored row is above). */
export function sqrtOfGapOnnx(width: number, column: number, c: number): Uint8Array {
  return encodeModel({
    graphName: "sqrt_of_gap",
    opsets: [{ domain: "", version: 17 }],
    inputs: [{ name: "features", shape: ["N", width] }],
    outputs: [{ name: "score", shape: ["N", 1] }],
    initializers: [floatTensor("W", [width, 1], Array.from({ length: width }, (_, j) => (j === column ? -1 : 0))), floatTensor("C", [1], [c])],
    nodes: [{ opType: "MatMul", inputs: ["features", "W"], outputs: ["minusX"] }, { opType: "Add", inputs: ["minusX", "C"], outputs: ["gap"] }, { opType: "Sqrt", inputs: ["gap"], outputs: ["score"] }],
  });
}

export function corruptModelBytes(): Uint8Array {
  return randomBytes(512);
}

/** Stores `bytes` as version `version` of a model (input "features", output "score"), with no alias. */
export function addTestVersion(db: Db, options: { modelId: string; version: number; bytes: Uint8Array; featureSpec: FeatureSpec }) {
  const { modelId, version, bytes, featureSpec } = options;
  return db.modelVersion.create({
    data: {
      modelId, version, sha256: createHash("sha256").update(bytes).digest("hex"), sizeBytes: bytes.length,
      inputName: "features", outputName: "score", featureSpec: featureSpec as object[], source: "test",
      artifact: { create: { bytes: Buffer.from(bytes) } },
    },
  });
}

/** Creates a surface served by `bytes` (alias "production"), optionally with a cascade model and a shadow candidate. */
export async function createTestSurface(db: Db, options: {
  key: string;
  bytes: Uint8Array;
  featureSpec: FeatureSpec;
  timeoutMs?: number;
  constraints?: ConstraintConfig;
  fallbackBytes?: Uint8Array;
  /** A third version under the alias "shadow" (the surface does not mirror to it until configured). */
  shadowBytes?: Uint8Array;
  /** More versions with no alias, numbered after the others. */
  extraVersions?: Uint8Array[];
  killSwitch?: boolean;
}) {
  const model = await db.model.create({ data: { name: `${options.key}-model`, owner: "test" } });
  const addVersion = (bytes: Uint8Array, version: number) => addTestVersion(db, { modelId: model.id, version, bytes, featureSpec: options.featureSpec });
  const primary = await addVersion(options.bytes, 1);
  await db.modelAlias.create({ data: { modelId: model.id, name: "production", versionId: primary.id } });
  if (options.fallbackBytes) {
    const fallback = await addVersion(options.fallbackBytes, 2);
    await db.modelAlias.create({ data: { modelId: model.id, name: "fallback", versionId: fallback.id } });
  }
  if (options.shadowBytes) {
    const shadow = await addVersion(options.shadowBytes, 3);
    await db.modelAlias.create({ data: { modelId: model.id, name: "shadow", versionId: shadow.id } });
  }
  for (const [i, bytes] of (options.extraVersions ?? []).entries()) await addVersion(bytes, 4 + i);
  return db.surface.create({
    data: {
      key: options.key, name: options.key, modelId: model.id, modelAlias: "production", fallbackAlias: options.fallbackBytes ? "fallback" : null,
      timeoutMs: options.timeoutMs ?? 1000, constraints: (options.constraints ?? {}) as object, killSwitch: options.killSwitch ?? false,
    },
  });
}
