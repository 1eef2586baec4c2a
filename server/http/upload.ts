import type { IncomingMessage, ServerResponse } from "node:http";
import type { Actor } from "../audit/actor";
import { getDb } from "../db/client";
import { mapError } from "../errorMapping";
import { errorForLog } from "../redact";
import { uploadVersion } from "../registry/upload";
import { sendJson } from "./body";
import { sendError } from "./jsonEndpoint";

/**
 * POST /api/v1/models/<name>/versions: a multipart form with `file`, `featureSpec` (JSON), `format`,
 * `metadata`, `metrics`, `parentVersion`. `body` was read by the front door within the upload limit.
 * 201 with the stored version; 400 / 404 / 409 naming what to fix.
 */
export async function serveUpload(req: IncomingMessage, res: ServerResponse, model: string, body: Buffer, actor: Actor): Promise<void> {
  let form: FormData;
  try {
    form = await new Request("http://upload.invalid/", { method: "POST", headers: { "content-type": req.headers["content-type"] ?? "" }, body: new Uint8Array(body) }).formData();
  } catch {
    return sendError(res, 400, { code: "BAD_REQUEST", message: "body: expected multipart/form-data with a file field" });
  }
  const file = form.get("file");
  const fields = Object.fromEntries([...form.entries()].filter(([, v]) => typeof v === "string")) as Record<string, string>;
  try {
    const version = await uploadVersion(getDb(), model, { file: file instanceof File ? file : null, fields }, actor);
    sendJson(res, 201, { id: version.id, model, version: version.version, sha256: version.sha256, sizeBytes: version.sizeBytes });
  } catch (error) {
    const mapped = mapError(error, `uploading a version of ${model}`);
    if (mapped.internal) console.error(`[http] upload: ${errorForLog(error)}`);
    sendError(res, mapped.httpStatus, { code: mapped.code, message: mapped.message });
  }
}
