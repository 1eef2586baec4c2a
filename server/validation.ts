import { z, type ZodError } from "zod";

/** A zod path as a reader writes it: candidates[3].features.price */
export function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>((out, part) => (typeof part === "number" ? `${out}[${part}]` : out ? `${out}.${String(part)}` : String(part)), "");
}

/** One line a user can act on: "candidates[3].id: Invalid input; topK: Too big …", naming each field. */
export function describeZodError(error: ZodError): string {
  return error.issues
    .map((issue) => {
      const where = issue.path.length ? fieldPath(issue.path) : "input";
      if (issue.code === "unrecognized_keys") return `${where}: unknown field${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
      return `${where}: ${issue.message}`;
    })
    .join("; ");
}

/**
 * A string PostgreSQL can store: text and jsonb refuse NUL (U+0000), so a request carrying one would
 * otherwise fail in the database (a 503 for a bad input, and a log row no batch can write).
 */
export const text = () => z.string().regex(/^[^\u0000]*$/, "must not contain NUL (\\u0000) characters");

/**
 * Why someone pulls a production lever, for the audit trail: what the next person reads.
 * 3–500 characters after trimming.
 */
export const reasonSchema = z.string().trim().min(3, "say why (at least 3 characters)").max(500);
