import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

// Every interactive transaction of a lever waits as long as the others (LEVER_TRANSACTION): a
// re-break found shadow and stage 2 presses answering 503 after Prisma's default 5 s behind a held
// surface row while the kill switch, on the same row, waited. This reads the sources: a
// `$transaction(` whose call does not pass LEVER_TRANSACTION must be in one of the files below,
// which are not levers (sign-in, first run, the seed, the job queue and webhook deliveries).

const NOT_LEVERS = new Set([
  "server/auth/auth.ts", // sign-in and sign-out audit entries
  "server/auth/firstRun.ts",
  "server/auth/users.ts", // the first admin's row (firstRun)
  "server/db/seed.ts",
  "server/jobs/tasks.ts", // a docstring's example
  "server/jobs/queue.ts", // a docstring's example
  "server/webhooks/notify.ts", // a delivery's own event row, not a press
  "server/approvals/service.ts", // nestedIn's savepoint proxy; its decisions pass LEVER_TRANSACTION
  "server/testing/locks.ts", // integration tests' lock holder (holds a row while a lever queues)
  "server/testing/partitionReads.ts", // integration tests' EXPLAIN of a prepared statement
]);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "generated" ? [] : sources(full);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts") ? [full] : [];
  });
}

/** Each `$transaction(` call's text, up to its closing parenthesis. */
function transactionCalls(text: string): string[] {
  const calls: string[] = [];
  for (let at = text.indexOf("$transaction("); at !== -1; at = text.indexOf("$transaction(", at + 1)) {
    let depth = 0;
    let end = at + "$transaction".length;
    do {
      const c = text[end];
      if (c === "(" || c === "[" || c === "{") depth++;
      else if (c === ")" || c === "]" || c === "}") depth--;
      end++;
    } while (depth > 0 && end < text.length);
    calls.push(text.slice(at, end));
  }
  return calls;
}

describe("lever transactions", () => {
  it("every $transaction outside the files that are not levers passes LEVER_TRANSACTION", () => {
    const offenders = sources("server").flatMap((file) => {
      if (NOT_LEVERS.has(file.split(path.sep).join("/"))) return [];
      return transactionCalls(readFileSync(file, "utf8")).filter((call) => !call.includes("LEVER_TRANSACTION")).map((call) => `${file}: ${call.slice(0, 80)}`);
    });
    expect(offenders).toEqual([]);
  });
});
