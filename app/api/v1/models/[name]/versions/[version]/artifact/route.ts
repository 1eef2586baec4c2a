import { z } from "zod";
import { authorizeHttp } from "@/server/auth/http";
import { getDb } from "@/server/db/client";
import { NotFoundError } from "@/server/errors";
import { answeringErrors, refusalResponse } from "@/server/http/routeErrors";
import { getArtifact } from "@/server/registry/models";
import { modelNameSchema } from "@/server/registry/schema";
import { describeZodError, int32 } from "@/server/validation";

export const dynamic = "force-dynamic";

// The path's parts, checked like any input: a name that is not a model name or a version past int4
// is a 400 naming it, not a database error.
const artifactPath = z.strictObject({ name: modelNameSchema, version: z.coerce.number().pipe(int32(1)) });

/** Download a version's ONNX artifact. */
export async function GET(req: Request, { params }: { params: Promise<{ name: string; version: string }> }) {
  // The path is the caller's until checked: a fault's message names the operation, not it.
  const path = await params;
  return answeringErrors("downloading a model artifact", async () => {
    const access = await authorizeHttp(req.headers, "console.read");
    if (!access.ok) return refusalResponse(access);
    const parsed = artifactPath.safeParse(path);
    if (!parsed.success) return Response.json({ error: { code: "BAD_REQUEST", message: describeZodError(parsed.error) } }, { status: 400 });
    const { name, version } = parsed.data;
    const db = getDb();
    const row = await db.modelVersion.findFirst({ where: { model: { name }, version }, select: { id: true } });
    if (!row) throw new NotFoundError("model version", `${name} v${version}`);
    const artifact = await getArtifact(db, row.id);
    return new Response(Buffer.from(artifact.bytes), {
      headers: { "content-type": "application/octet-stream", "content-disposition": `attachment; filename="${artifact.fileName}"` },
    });
  })();
}
