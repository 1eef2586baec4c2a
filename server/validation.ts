import type { ZodError } from "zod";

/** One line a user can act on: "candidates.3.id: Invalid input; topK: Too big …", naming each field. */
export function describeZodError(error: ZodError): string {
  return error.issues
    .map((issue) => {
      const where = issue.path.length ? issue.path.map(String).join(".") : "input";
      if (issue.code === "unrecognized_keys") return `${where}: unknown field${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
      return `${where}: ${issue.message}`;
    })
    .join("; ");
}
