import { createHash } from "node:crypto";
import path from "node:path";
import { env } from "../../config";
import { DEMO_CROSS_ENCODER_DIR, DEMO_CROSS_ENCODER_NAME } from "../../demo/crossEncoder";
import { InvalidInputError } from "../../errors";
import { readCrossEncoderBundle } from "../../inference/crossEncoder/bundle";
import { CrossEncoderPool } from "../../inference/crossEncoder/pool";
import type { CrossEncoderConfig } from "../../inference/crossEncoder/bundle";

// The cross-encoders this process serves by name: the demo bundle and CROSS_ENCODER_BUNDLES, each
// opened in the worker pool on first use (a refused bundle is answered with its reason, every time).
// One pool per process, on globalThis: Next's bundle and the front door each load their own copy
// of this module.

export interface ServedCrossEncoder {
  name: string;
  key: string;
  config: CrossEncoderConfig;
}

interface State {
  pool?: CrossEncoderPool;
  opened: Map<string, Promise<ServedCrossEncoder>>;
}
const holder = globalThis as unknown as { __textRerankers?: State };
const state: State = (holder.__textRerankers ??= { opened: new Map() });

/** name → bundle folder: the demo, then CROSS_ENCODER_BUNDLES ("name=folder,…"). */
export function crossEncoderFolders(): Map<string, string> {
  const folders = new Map([[DEMO_CROSS_ENCODER_NAME, DEMO_CROSS_ENCODER_DIR]]);
  for (const pair of env().CROSS_ENCODER_BUNDLES?.split(",") ?? []) {
    const [name, folder] = pair.split("=") as [string, string];
    folders.set(name.trim(), path.resolve(folder.trim()));
  }
  return folders;
}

export function crossEncoderPool(): CrossEncoderPool {
  const { CROSS_ENCODER_WORKERS, CROSS_ENCODER_MAX_BATCH, CROSS_ENCODER_MAX_WAIT_MS } = env();
  return (state.pool ??= new CrossEncoderPool({ workers: CROSS_ENCODER_WORKERS, maxBatchPairs: CROSS_ENCODER_MAX_BATCH, maxWaitMs: CROSS_ENCODER_MAX_WAIT_MS }));
}

/**
 * The served cross-encoder called `name`, opened in the pool on first use. InvalidInputError on
 * `model` when no such name is served or its bundle is refused (the bundle's reason in the message).
 */
export function servedCrossEncoder(name: string): Promise<ServedCrossEncoder> {
  let opened = state.opened.get(name);
  if (!opened) {
    const folder = crossEncoderFolders().get(name);
    if (!folder) {
      const known = [...crossEncoderFolders().keys()].map((n) => `"${n}"`).join(", ");
      return Promise.reject(new InvalidInputError("model", `no text reranker is served under "${name}"; served: ${known}`));
    }
    opened = openFolder(name, folder);
    state.opened.set(name, opened);
    opened.catch(() => state.opened.delete(name));
  }
  return opened;
}

async function openFolder(name: string, folder: string): Promise<ServedCrossEncoder> {
  let bundle;
  try {
    bundle = await readCrossEncoderBundle(folder);
  } catch (error) {
    const e = error as Error & { field?: string };
    throw new InvalidInputError("model", `the bundle of "${name}" cannot be read: ${e.message}`);
  }
  const key = createHash("sha256").update(bundle.onnx).update(bundle.tokenizerJson).update(JSON.stringify(bundle.config)).digest("hex");
  try {
    await crossEncoderPool().register(key, bundle);
  } catch (error) {
    throw new InvalidInputError("model", `the bundle of "${name}" is refused: ${(error as Error).message}`);
  }
  return { name, key, config: bundle.config };
}

/** Stops the pool's workers (tests, shutdown). */
export async function closeCrossEncoders(): Promise<void> {
  const pool = state.pool;
  state.pool = undefined;
  state.opened.clear();
  await pool?.close();
}
