import type { Db } from "../db/client";

/**
 * A retrieval stand-in for the console's playground and the simulator: catalog items whose title or
 * category matches the query, in a deterministic pseudo-retrieval order with scores in (0, 1].
 */
export async function sampleCandidates(db: Db, input: { query?: string; count: number; includeBlocked: boolean }) {
  const q = input.query?.trim();
  const rows = await db.catalogItem.findMany({
    where: {
      ...(q ? { OR: [{ title: { contains: q, mode: "insensitive" } }, { category: { contains: q, mode: "insensitive" } }] } : {}),
      ...(input.includeBlocked ? {} : { safetyFlags: { isEmpty: true } }),
    },
    select: { id: true, title: true, category: true, price: true, providerGroup: true, safetyFlags: true },
    orderBy: { id: "asc" },
    take: 2000,
  });
  // A stable shuffle keyed on the query, so the same query retrieves the same list.
  const seed = [...(q ?? "")].reduce((h, ch) => (h * 31 + ch.charCodeAt(0)) >>> 0, 7);
  const keyed = rows.map((r) => ({ r, k: ((Number(r.id.replace(/\D/g, "")) * 2654435761) ^ seed) >>> 0 })).sort((a, b) => a.k - b.k);
  return keyed.slice(0, input.count).map(({ r }, i, all) => ({ ...r, retrievalScore: Math.round((1 - i / all.length) * 1e4) / 1e4 }));
}
