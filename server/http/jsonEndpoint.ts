import type { ServerResponse } from "node:http";
import type { z } from "zod";
import { fieldsOf, mapError, retryAfterHeader } from "../errorMapping";
import { logInternalError } from "../redact";
import { describeInvalidInput } from "../validation";
import { sendJson, sendJsonText } from "./body";

// Plain HTTP JSON endpoints for callers in other languages (POST /api/v1/…): the same zod schema
// and service as the tRPC procedure, the same messages naming the field, the same error mapping.

/** A handler's result that is already JSON text: sent as it is, not serialised again. */
export class JsonText {
  constructor(readonly text: string) {}
}

export interface ErrorBody {
  error: { code: string; message: string; fields?: Array<{ path: string; message: string }> };
}

export const sendError = (res: ServerResponse, status: number, error: ErrorBody["error"], options: { close?: boolean; headers?: Record<string, string> } = {}) =>
  sendJson(res, status, { error } satisfies ErrorBody, options);

/** An endpoint's error body around the house's `error` object (Cohere-compatible endpoints add `message`). */
export type ErrorShape = (error: ErrorBody["error"]) => object;

/** The house's error body: `{ error }`. */
const houseError: ErrorShape = (error) => ({ error });

/** JSON text → value, or the one message both the HTTP endpoints and tRPC give for a malformed body. */
export function parseJsonBody(text: string): { ok: true; value: unknown } | { ok: false; message: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, message: `body: malformed JSON (${(error as Error).message})` };
  }
}

/**
 * Validates a JSON body with `schema`, runs `handler` and answers: 200 with its result, 400 naming
 * the fields, or the status of server/errorMapping.ts (`what` names the operation in a 5xx body).
 */
export async function serveJson<S extends z.ZodType>(
  res: ServerResponse,
  text: string,
  schema: S,
  handler: (input: z.infer<S>) => Promise<unknown>,
  what: string,
  shape: ErrorShape = houseError,
): Promise<void> {
  const sendError = (status: number, error: ErrorBody["error"], headers?: Record<string, string>) => sendJson(res, status, shape(error), { headers });
  const body = parseJsonBody(text);
  if (!body.ok) return sendError(400, { code: "MALFORMED_JSON", message: body.message });
  const parsed = schema.safeParse(body.value);
  if (!parsed.success) {
    // The first issues only, the message naming five (describeInvalidInput): a body wrong everywhere answered 49.7 MB.
    return sendError(400, { code: "BAD_REQUEST", ...describeInvalidInput(parsed.error) });
  }
  let result: unknown;
  try {
    result = await handler(parsed.data);
  } catch (error) {
    const mapped = mapError(error, what);
    if (mapped.internal) logInternalError(`[http] ${what}`, error);
    const fields = fieldsOf(mapped);
    return sendError(mapped.httpStatus, { code: mapped.code, message: mapped.message, ...(fields ? { fields } : {}) }, retryAfterHeader(mapped));
  }
  if (result instanceof JsonText) sendJsonText(res, 200, result.text);
  else sendJson(res, 200, result);
}
