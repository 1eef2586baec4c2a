import type { Db } from "../db/client";

export async function listModels(db: Db) {
  const models = await db.model.findMany({
    orderBy: { name: "asc" },
    include: {
      surface: { select: { key: true } },
      aliases: { select: { name: true, version: { select: { version: true } } } },
      _count: { select: { versions: true } },
    },
  });
  return models.map((m) => ({
    id: m.id,
    name: m.name,
    owner: m.owner,
    description: m.description,
    surface: m.surface?.key ?? null,
    versions: m._count.versions,
    aliases: m.aliases.map((a) => ({ name: a.name, version: a.version.version })),
  }));
}
