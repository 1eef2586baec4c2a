import { authorizeHttp } from "@/server/auth/http";
import { actorOf } from "@/server/audit/actor";
import { getDb } from "@/server/db/client";
import { ConflictError, InvalidInputError, NotFoundError } from "@/server/errors";
import { errorForLog } from "@/server/redact";
import { uploadVersion } from "@/server/registry/upload";
import { maxModelBytes } from "@/server/registry/versions";

export const dynamic = "force-dynamic";

/** Upload a model version: multipart form with `file`, `featureSpec` (JSON), `format`, `metadata`, `metrics`, `parentVersion`. */
export async function POST(req: Request, { params }: { params: Promise<{ name: string }> }) {
  const { name } = await params;
  const access = await authorizeHttp(req.headers, "models.write");
  if (!access.ok) return Response.json({ error: { code: access.code, message: access.message } }, { status: access.status });
  const declared = Number(req.headers.get("content-length") ?? 0);
  // The form carries the spec and metadata too; allow a little room over the artifact cap.
  if (declared > maxModelBytes() + 1_048_576) {
    return Response.json({ error: { code: "BAD_REQUEST", message: `file: the upload of ${declared} bytes exceeds the ${maxModelBytes()}-byte limit (MODEL_MAX_BYTES)` } }, { status: 400 });
  }
  let form: FormData;
  try {
    form = await req.formData();
  } catch {
    return Response.json({ error: { code: "BAD_REQUEST", message: "body: expected multipart/form-data with a file field" } }, { status: 400 });
  }
  const file = form.get("file");
  const fields = Object.fromEntries([...form.entries()].filter(([, v]) => typeof v === "string")) as Record<string, string>;
  try {
    const version = await uploadVersion(getDb(), name, { file: file instanceof File ? file : null, fields }, actorOf(access.principal, req.headers));
    return Response.json({ id: version.id, model: name, version: version.version, sha256: version.sha256, sizeBytes: version.sizeBytes }, { status: 201 });
  } catch (error) {
    const status = error instanceof InvalidInputError ? 400 : error instanceof NotFoundError ? 404 : error instanceof ConflictError ? 409 : 500;
    if (status === 500) console.error(`[models] ${errorForLog(error)}`);
    return Response.json({ error: { code: status === 400 ? "BAD_REQUEST" : status === 404 ? "NOT_FOUND" : status === 409 ? "CONFLICT" : "INTERNAL", message: (error as Error).message } }, { status });
  }
}
