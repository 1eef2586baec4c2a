import type { Db } from "./client";
import { DEMO_BLOCKED_FLAGS, demoCatalog } from "../demo/catalog";

// Demo data, written once: a second run finds the marker surface and does nothing.

export const DEMO_USERS = [
  { email: "admin@rerank.local", name: "Ada Admin", role: "admin" },
  { email: "pm@rerank.local", name: "Priya PM", role: "pm" },
  { email: "ml@rerank.local", name: "Mo ML", role: "ml_engineer" },
  { email: "oncall@rerank.local", name: "Omar On-call", role: "oncall" },
] as const;

export async function seedDemo(db: Db, log: (line: string) => void = () => {}): Promise<{ seeded: boolean }> {
  if (await db.surface.findUnique({ where: { key: "search" } })) return { seeded: false };
  const items = demoCatalog();
  await db.$transaction(
    async (tx) => {
      await tx.user.createMany({ data: DEMO_USERS.map((u) => ({ ...u })), skipDuplicates: true });
      await tx.catalogItem.createMany({
        data: items.map(({ id, title, category, brand, price, providerGroup, safetyFlags }) => ({
          id, title, category, brand, price, providerGroup, safetyFlags,
        })),
      });
      await tx.itemFeature.createMany({ data: items.map((item) => ({ itemId: item.id, values: item.features })) });
      await tx.surface.create({
        data: {
          key: "search",
          name: "Search results",
          description: "Reranks the top retrieval candidates for a text query.",
          timeoutMs: 30,
          defaultTopK: 20,
          constraints: {
            blockedFlags: [...DEMO_BLOCKED_FLAGS],
            maxPerCategory: { limit: 4, withinTop: 10 },
            exposureFloors: [{ field: "providerGroup", group: "marketplace-small", minShare: 0.2, withinTop: 10 }],
          },
        },
      });
      await tx.surface.create({
        data: {
          key: "home-feed",
          name: "Home feed",
          description: "Orders the personalised home feed.",
          timeoutMs: 40,
          defaultTopK: 30,
          constraints: { blockedFlags: [...DEMO_BLOCKED_FLAGS], diversity: { lambda: 0.7, field: "category" } },
        },
      });
      await tx.auditLog.create({
        data: { actor: "system", action: "seed.demo", entityType: "system", entityId: "demo", after: { items: items.length } },
      });
    },
    { timeout: 60_000 },
  );
  log(`seeded demo data: ${items.length} catalog items, 2 surfaces, ${DEMO_USERS.length} users`);
  return { seeded: true };
}
