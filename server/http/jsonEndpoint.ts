import type { z } from "zod";
import { authorizeHttp } from "../auth/http";
import type { Principal } from "../auth/principal";
import type { Permission } from "../domain/access/permissions";
import { ConflictError, ForbiddenError, InvalidInputError, NotFoundError } from "../errors";
import { errorForLog } from "../redact";
import { describeZodError, fieldPath } from "../validation";

// Plain HTTP JSON endpoints for callers in other languages (POST /api/v1/…): the same zod schema
// and service as the tRPC procedure, the same messages naming the field.

export interface ErrorBody {
  error: { code: string; message: string; fields?: Array<{ path: string; message: string }> };
}

const fail = (status: number, code: string, message: string, fields?: ErrorBody["error"]["fields"]) =>
  Response.json({ error: { code, message, ...(fields ? { fields } : {}) } } satisfies ErrorBody, { status });

async function readBody(req: Request, maxBytes: number): Promise<string | Response> {
  const declared = Number(req.headers.get("content-length") ?? NaN);
  const tooLarge = (n: number) => fail(400, "PAYLOAD_TOO_LARGE", `body: the payload of ${n} bytes exceeds the ${maxBytes}-byte limit`);
  if (declared > maxBytes) return tooLarge(declared);
  const bytes = new Uint8Array(await req.arrayBuffer());
  if (bytes.length > maxBytes) return tooLarge(bytes.length);
  return new TextDecoder().decode(bytes);
}

export async function handleJson<S extends z.ZodType>(
  req: Request,
  schema: S,
  handler: (input: z.infer<S>, principal: Principal | null) => Promise<unknown>,
  options: { maxBytes: number; permission: Permission },
): Promise<Response> {
  const access = await authorizeHttp(req.headers, options.permission);
  if (!access.ok) return fail(access.status, access.code, access.message);
  const text = await readBody(req, options.maxBytes);
  if (text instanceof Response) return text;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    return fail(400, "MALFORMED_JSON", `body: malformed JSON (${(error as Error).message})`);
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    return fail(400, "BAD_REQUEST", describeZodError(parsed.error), parsed.error.issues.map((i) => ({ path: fieldPath(i.path), message: i.message })));
  }
  try {
    return Response.json(await handler(parsed.data, access.principal));
  } catch (error) {
    if (error instanceof InvalidInputError) return fail(400, "BAD_REQUEST", error.message, [{ path: error.field, message: error.message }]);
    if (error instanceof NotFoundError) return fail(404, "NOT_FOUND", error.message);
    if (error instanceof ConflictError) return fail(409, "CONFLICT", error.message);
    if (error instanceof ForbiddenError) return fail(403, "FORBIDDEN", error.message);
    // Only infrastructure faults get here (model faults are served by a fallback): say so plainly.
    console.error(`[api] ${errorForLog(error)}`);
    return fail(503, "UNAVAILABLE", `the service could not complete the request: ${(error as Error).message?.split("\n")[0] ?? "unknown error"}`);
  }
}
