import { authorizeHttp } from "@/server/auth/http";
import { getDb } from "@/server/db/client";
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
    if (error instanceof NotFoundError) return Response.json({ error: { code: "NOT_FOUND", message: error.message } }, { status: 404 });
    throw error;
  }
}
