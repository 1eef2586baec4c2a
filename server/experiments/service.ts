import type { Db } from "../db/client";

export async function listExperiments(db: Db) {
  return db.experiment.findMany({
    orderBy: [{ status: "asc" }, { updatedAt: "desc" }],
    select: {
      id: true, key: true, name: true, status: true, kind: true, owner: true, startedAt: true,
      surface: { select: { key: true } },
      _count: { select: { variants: true } },
    },
  });
}
