// Keeps one onnxruntime session per model version, loaded once and kept warm. The serving issue
// fills this with real loading; health reads what is loaded.

process.env.ORT_DISABLE_TELEMETRY = "1";

export interface LoadedModel {
  versionId: string;
  name: string;
  version: number;
  sha256: string;
  loadedAt: Date;
  loadMs: number;
}

const holder = globalThis as unknown as { __rerankSessions?: Map<string, LoadedModel> };
const loaded = (holder.__rerankSessions ??= new Map());

export function loadedModels(): LoadedModel[] {
  return [...loaded.values()].sort((a, b) => a.name.localeCompare(b.name) || a.version - b.version);
}

export function recordLoaded(model: LoadedModel): void {
  loaded.set(model.versionId, model);
}
