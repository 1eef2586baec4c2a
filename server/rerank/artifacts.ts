import { getDb } from "../db/client";
import type { ModelArtifact } from "../inference/sessions";

/** A model version's bytes and signature from the registry, for the session cache to open. */
export async function fetchArtifact(versionId: string): Promise<ModelArtifact> {
  const row = await getDb().modelVersion.findUnique({
    where: { id: versionId },
    select: { id: true, version: true, sha256: true, featureSpec: true, inputName: true, outputName: true, model: { select: { name: true } }, artifact: { select: { bytes: true } } },
  });
  if (!row?.artifact) throw new Error(`model version ${versionId} has no artifact`);
  return {
    versionId: row.id, name: row.model.name, version: row.version, sha256: row.sha256,
    featureSpec: row.featureSpec as unknown as ModelArtifact["featureSpec"], inputName: row.inputName, outputName: row.outputName,
    bytes: new Uint8Array(row.artifact.bytes),
  };
}
