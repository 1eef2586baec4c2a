import type { Prisma } from "../db/generated/client";

// How a sentence names a model version it knows by id: a pinned version a lever compares, the
// version an alias points at now. One form for every refusal and summary that names one.

/**
 * Model version `id` in words: "v4" (with `options.model`: "search-ranker v4"); "unset" for null
 * (an alias that points at no version, a pin taken while it was unset); "v?" when no version has
 * that id. One primary-key read (none for null).
 */
export async function versionWords(db: Pick<Prisma.TransactionClient, "modelVersion">, id: string | null, options: { model?: boolean } = {}): Promise<string> {
  if (id === null) return "unset";
  const found = await db.modelVersion.findUnique({ where: { id }, select: { version: true, model: { select: { name: true } } } });
  if (!found) return "v?";
  return options.model ? `${found.model.name} v${found.version}` : `v${found.version}`;
}
