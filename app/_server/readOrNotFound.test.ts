import { TRPCError } from "@trpc/server";
import { isHTTPAccessFallbackError, getAccessFallbackHTTPStatus } from "next/dist/client/components/http-access-fallback/http-access-fallback";
import { describe, expect, it } from "vitest";
import { InvalidInputError, NotFoundError } from "@/server/errors";
import { namesNothing, readOrNotFound, versionOrNotFound } from "./readOrNotFound";

/** What a call threw: Next's notFound() throws an error Next answers with a 404. */
async function thrown(run: () => unknown): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    return error;
  }
  throw new Error("did not throw");
}
const is404 = (error: unknown) => isHTTPAccessFallbackError(error) && getAccessFallbackHTTPStatus(error) === 404;

describe("readOrNotFound", () => {
  it("answers the read's value", async () => {
    await expect(readOrNotFound(Promise.resolve({ name: "search-ranker" }))).resolves.toEqual({ name: "search-ranker" });
  });

  it("turns a read's NOT_FOUND or BAD_REQUEST into Next's notFound() (a 404), by code: tRPC's errors, the domain's, a copy's", async () => {
    for (const error of [
      new TRPCError({ code: "NOT_FOUND", message: 'model "nope" does not exist' }),
      new TRPCError({ code: "BAD_REQUEST", message: "version: expected a number" }),
      new NotFoundError("experiment", "nope"),
      new InvalidInputError("version", "must be an integer"),
      Object.assign(new Error('model version "search-ranker v99" does not exist'), { code: "NOT_FOUND" }),
    ]) {
      expect(is404(await thrown(() => readOrNotFound(Promise.reject(error)))), String(error)).toBe(true);
    }
  });

  it("throws any other error as it is (a 401, a 503, a fault stay what they are)", async () => {
    for (const error of [new TRPCError({ code: "UNAUTHORIZED", message: "sign in" }), new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "down" }), new Error("boom")]) {
      expect(await thrown(() => readOrNotFound(Promise.reject(error)))).toBe(error);
    }
  });

  it("namesNothing reads the code only", () => {
    expect([namesNothing({ code: "NOT_FOUND" }), namesNothing({ code: "BAD_REQUEST" }), namesNothing({ code: "CONFLICT" }), namesNothing(null), namesNothing("NOT_FOUND")]).toEqual([true, true, false, false, false]);
  });
});

describe("versionOrNotFound", () => {
  it("reads a plainly written positive integer", () => {
    expect([versionOrNotFound("1"), versionOrNotFound("99")]).toEqual([1, 99]);
  });

  it("is a 404 for anything else", async () => {
    for (const text of ["abc", "0", "03", "1.5", "1e1", "-1", "", " 1", "12345678901"]) expect(is404(await thrown(() => versionOrNotFound(text))), text).toBe(true);
  });
});
