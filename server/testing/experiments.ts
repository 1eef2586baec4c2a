import { surfaceConfigs } from "../surfaces/configCache";
import { callerAs } from "./callers";

/**
 * Creates and starts an interleaving experiment on `surface` through tRPC (as an admin), then
 * refreshes the serving config so the next rerank is enrolled.
 * @param variants the two variants, A (control) first: each a registry alias of the surface's model or a version id.
 */
export async function startInterleaving(key: string, surface: string, variants: [InterleavingVariant, InterleavingVariant]): Promise<void> {
  const pm = callerAs(["admin"], "pm@rerank.local");
  await pm.experiments.create({
    key, name: `${variants[0].name} vs ${variants[1].name}`, surface, kind: "interleaving", owner: "pm@rerank.local",
    variants: variants.map((v, i) => ({ weight: 0.5, isControl: i === 0, ...v })),
  } as Parameters<typeof pm.experiments.create>[0]);
  await pm.experiments.start({ key });
  await surfaceConfigs().refresh();
}

/** One arm of an interleaving experiment: its key, a display name, and which model it serves. */
export type InterleavingVariant = { key: string; name: string } & ({ modelAlias: string } | { modelVersionId: string });
