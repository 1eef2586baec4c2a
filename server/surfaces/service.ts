import type { Db } from "../db/client";
import { NotFoundError } from "../errors";

export async function listSurfaces(db: Db) {
  return db.surface.findMany({ orderBy: { key: "asc" }, include: { model: { select: { name: true } } } });
}

export async function getSurface(db: Db, key: string) {
  const surface = await db.surface.findUnique({ where: { key }, include: { model: { select: { name: true } } } });
  if (!surface) throw new NotFoundError("surface", key);
  return surface;
}
