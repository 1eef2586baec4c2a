import { mkdtemp, rm } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import type { Actor } from "../audit/actor";
import { env } from "../config";
import { getDb } from "../db/client";
import { mapError, retryAfterHeader } from "../errorMapping";
import { logInternalError } from "../redact";
import { uploadVersion } from "../registry/upload";
import { BodyAbortedError, BodyTooLargeError, sendJson } from "./body";
import { sendError } from "./jsonEndpoint";
import { receiveForm } from "./multipart";

// POST /api/v1/models/<name>/versions. Uploads must not hurt serving: at most
// MODEL_UPLOAD_CONCURRENCY are taken at once per process, received or converting (others get 503
// with Retry-After before their body is read: the slot bounds the disk the bodies fill as well as
// the conversions; a body that pauses 30 s is cut by the front door, freeing its slot); the body
// streams to a temporary file rather than into memory; the parse,
// conversion and smoke test run in a worker thread (registry/importInWorker.ts); the temporary
// folder is removed whatever happens.

/** Text fields (the feature spec is the largest: 4,096 features with distributions fit well within it). */
const FIELD_BYTES = 8 * 1048576;
const RETRY_AFTER_SECONDS = 5;

let inFlight = 0;

/** Uploads this process is receiving or converting now. */
export const uploadsInFlight = () => inFlight;

/**
 * A multipart form with `file`, `featureSpec` (JSON), `format`, `metadata`, `metrics`,
 * `parentVersion`, read here within `bodyLimit`; `actorNow` says who uploads as of when the form is
 * in (its refusal, 401 / 403 with its headers, is the answer). 201 with the stored version; 400 / 404 / 409
 * naming what to fix; 413 past the body limit; 503 with Retry-After when the upload slots are taken.
 */
export async function serveUpload(req: IncomingMessage, res: ServerResponse, model: string, actorNow: () => Promise<{ actor: Actor } | { refusal: { status: number; code: string; message: string; headers?: Record<string, string> } }>, bodyLimit: number): Promise<void> {
  const slots = env().MODEL_UPLOAD_CONCURRENCY;
  if (inFlight >= slots) {
    return sendJson(res, 503, { error: { code: "UNAVAILABLE", message: `file: ${inFlight} model uploads are in progress, the most this server takes at once (MODEL_UPLOAD_CONCURRENCY); try again in ${RETRY_AFTER_SECONDS} s` } }, { close: true, headers: { "retry-after": String(RETRY_AFTER_SECONDS) } });
  }
  inFlight++;
  let dir: string | null = null;
  let answer: () => void;
  try {
    dir = await mkdtemp(path.join(env().MODEL_UPLOAD_DIR, "rerank-upload-"));
    const form = await receiveForm(req, dir, { bodyBytes: bodyLimit, fileBytes: env().MODEL_MAX_BYTES, fieldBytes: FIELD_BYTES });
    // Who uploads, as of now that the file is in (rights may have been withdrawn while it came).
    const caller = await actorNow();
    if ("refusal" in caller) {
      const { status, code, message, headers } = caller.refusal;
      answer = () => sendError(res, status, { code, message }, { headers });
    } else {
      const version = await uploadVersion(getDb(), model, form, caller.actor);
      answer = () => sendJson(res, 201, { id: version.id, model, version: version.version, sha256: version.sha256, sizeBytes: version.sizeBytes, warnings: version.warnings });
    }
  } catch (error) {
    if (error instanceof BodyAbortedError) {
      answer = () => undefined; // the connection is gone (or was cut with a 408): nobody to answer
    } else if (error instanceof BodyTooLargeError) {
      answer = () => sendError(res, 413, { code: "PAYLOAD_TOO_LARGE", message: error.message }, { close: true });
    } else {
      const mapped = mapError(error, `uploading a version of ${model}`);
      if (mapped.internal) logInternalError("[http] upload", error);
      // A refusal before the body ended leaves the rest unread: close the connection after the answer.
      answer = () => sendError(res, mapped.httpStatus, { code: mapped.code, message: mapped.message }, { close: !req.readableEnded, headers: retryAfterHeader(mapped) });
    }
  }
  // The temporary folder goes before the answer, so nothing is left once the caller hears back —
  // except when the body was refused half-read: that answer goes at once, before the unread rest
  // piles up (the connection is closed after it).
  const removal = dir ? rm(dir, { recursive: true, force: true }).catch((error: unknown) => console.error("[http] upload: could not remove", dir, error)) : Promise.resolve();
  // An answer already sent (the front door's 408 for a body that paused) is not sent again.
  if (!req.readableEnded && !res.headersSent) answer();
  await removal;
  inFlight--;
  if (req.readableEnded && !res.headersSent) answer();
}
