import { z } from "zod";
import { authorizeHttp } from "@/server/auth/http";
import { getDb } from "@/server/db/client";
import { mapError } from "@/server/errorMapping";
import { errorForLog } from "@/server/redact";
import { NotFoundError } from "@/server/errors";
import { getArtifact } from "@/server/registry/models";
import { modelNameSchema } from "@/server/registry/schema";
import { describeZodError, int32 } from "@/server/validation";

export const dynamic = "force-dynamic";

// The path's parts, checked like any input: a name that is not a model name or a version past int4
// is a 400 naming it, not a database error.
const artifactPath = z.strictObject({ name: modelNameSchema, version: z.coerce.number().pipe(int32(1)) });

/** Download a version's ONNX artifact. */
export async function GET(req: Request, { params }: { params: Promise<{ name: string; version: string }> }) {
  const access = await authorizeHttp(req.headers, "console.read");
  if (!access.ok) return Response.json({ error: { code: access.code, message: access.message } }, { status: access.status });
  const parsed = artifactPath.safeParse(await params);
  if (!parsed.success) return Response.json({ error: { code: "BAD_REQUEST", message: describeZodError(parsed.error) } }, { status: 400 });
  const { name, version } = parsed.data;
  try {
    const db = getDb();
    const row = await db.modelVersion.findFirst({ where: { model: { name }, version }, select: { id: true } });
    if (!row) throw new NotFoundError("model version", `${name} v${version}`);
    const artifact = await getArtifact(db, row.id);
    return new Response(Buffer.from(artifact.bytes), {
      headers: { "content-type": "application/octet-stream", "content-disposition": `attachment; filename="${artifact.fileName}"` },
    });
  } catch (error) {
    const mapped = mapError(error, `downloading ${name} v${version}`);
    if (mapped.internal) console.error(`[http] artifact: ${errorForLog(error)}`);
    return Response.json({ error: { code: mapped.code, message: mapped.message } }, { status: mapped.httpStatus });
  }
}
