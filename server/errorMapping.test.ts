import { describe, expect, it } from "vitest";
import { mapError, retryAfterHeader } from "./errorMapping";
import { ConflictError, InvalidInputError, NotFoundError, RetryLaterError } from "./errors";

describe("one error mapping", () => {
  it("maps domain errors by their code to HTTP status and tRPC code, keeping the message", () => {
    expect(mapError(new NotFoundError("surface", "nope"), "x")).toMatchObject({ httpStatus: 404, trpcCode: "NOT_FOUND", code: "NOT_FOUND", message: 'surface "nope" does not exist', internal: false });
    expect(mapError(new InvalidInputError("topK", "must be positive"), "x")).toMatchObject({ httpStatus: 400, trpcCode: "BAD_REQUEST", field: "topK", message: "topK: must be positive" });
    expect(mapError(new ConflictError("already running"), "x")).toMatchObject({ httpStatus: 409, trpcCode: "CONFLICT" });
  });

  it("recognises a domain error from another bundle's copy of the classes (by code, not instanceof)", () => {
    class NotFoundError extends Error {
      readonly code = "NOT_FOUND";
    }
    expect(mapError(new NotFoundError('surface "nope" does not exist'), "x")).toMatchObject({ httpStatus: 404, trpcCode: "NOT_FOUND" });
  });

  it("says what failed in plain words for faults of ours, without the database's text", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
    const wrapped = Object.assign(new Error("Invalid `prisma.surface.findUnique()` invocation: Can't reach database server at 10.0.0.5:5432"), { code: "P1001" });
    const transactionTimeout = Object.assign(new Error("Transaction API error: Transaction already closed: A query cannot be executed on an expired transaction"), { code: "P2028" });
    for (const error of [refused, wrapped, new Error("outer", { cause: refused }), transactionTimeout]) {
      const mapped = mapError(error, "POST /api/v1/rerank");
      expect(mapped).toMatchObject({ httpStatus: 503, trpcCode: "SERVICE_UNAVAILABLE", code: "UNAVAILABLE", internal: true });
      expect(mapped.message).toBe("POST /api/v1/rerank failed: the database is unavailable, try again shortly");
    }
    const check = Object.assign(new Error('new row for relation "surfaces" violates check constraint "surfaces_timeout_ms_check"'), { code: "23514" });
    const mapped = mapError(check, "surfaces.update");
    expect(mapped).toMatchObject({ httpStatus: 500, trpcCode: "INTERNAL_SERVER_ERROR", code: "INTERNAL" });
    expect(mapped.message).toBe("surfaces.update failed: an internal error (logged on the server)");
    expect(mapped.message).not.toContain("surfaces_timeout_ms_check");
    expect(mapError("a thrown string", "x").httpStatus).toBe(500);
    expect(mapError(null, "x").httpStatus).toBe(500);
  });

  it("answers a unique violation (two requests creating the same thing at once) as a 409 naming the field, never the index or the driver's text", () => {
    const prisma = Object.assign(new Error("Invalid `prisma.user.create()` invocation: Unique constraint failed on the constraint: `users_email_key`"), {
      code: "P2002",
      meta: { modelName: "User", driverAdapterError: { name: "DriverAdapterError", cause: { originalCode: "23505", kind: "UniqueConstraintViolation", constraint: { index: "users_email_key" }, table: "users" } } },
    });
    expect(mapError(prisma, "users.invite")).toEqual({ httpStatus: 409, trpcCode: "CONFLICT", code: "CONFLICT", field: "email", message: "email: already taken (another request created the same one a moment ago)", internal: false });
    const compound = Object.assign(new Error("x"), { code: "P2002", meta: { driverAdapterError: { cause: { constraint: { index: "model_versions_model_id_sha256_key" }, table: "model_versions" } } } });
    expect(mapError(compound, "x")).toMatchObject({ httpStatus: 409, field: "modelIdSha256" });
    const raw = Object.assign(new Error('duplicate key value violates unique constraint "surfaces_key_key"'), { code: "23505" });
    expect(mapError(raw, "x")).toMatchObject({ httpStatus: 409, message: "input: already taken (another request created the same one a moment ago)" });
  });

  it("gives the Retry-After header a RetryLaterError asks for, in whole seconds, and none for other errors", () => {
    expect(retryAfterHeader(mapError(new RetryLaterError("busy", 2.2), "x"))).toEqual({ "retry-after": "3" });
    expect(retryAfterHeader(mapError(new NotFoundError("surface", "nope"), "x"))).toBeUndefined();
    expect(retryAfterHeader(mapError(new Error("boom"), "x"))).toBeUndefined();
  });
});
