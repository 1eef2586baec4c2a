import { authorizeHttp } from "@/server/auth/http";
import { getDb } from "@/server/db/client";
import { mapError } from "@/server/errorMapping";
import { NotFoundError } from "@/server/errors";
import { getArtifact } from "@/server/registry/models";

export const dynamic = "force-dynamic";

/** Download a version's ONNX artifact. */
export async function GET(req: Request, { params }: { params: Promise<{ name: string; version: string }> }) {
  const access = await authorizeHttp(req.headers, "console.read");
  if (!access.ok) return Response.json({ error: { code: access.code, message: access.message } }, { status: access.status });
  const { name, version } = await params;
  const db = getDb();
  const row = await db.modelVersion.findFirst({ where: { model: { name }, version: Number(version) || -1 }, select: { id: true } });
  try {
    if (!row) throw new NotFoundError("model version", `${name} v${version}`);
    const artifact = await getArtifact(db, row.id);
    return new Response(Buffer.from(artifact.bytes), {
      headers: { "content-type": "application/octet-stream", "content-disposition": `attachment; filename="${artifact.fileName}"` },
    });
  } catch (error) {
    const mapped = mapError(error, `downloading ${name} v${version}`);
    if (mapped.internal) console.error("[http] artifact:", error);
    return Response.json({ error: { code: mapped.code, message: mapped.message } }, { status: mapped.httpStatus });
  }
}
