import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

// A guard over the SQL in server/: no count or sum is cast to a 32-bit integer. count() is bigint
// in PostgreSQL; `count(*)::int` fails with 22003 ("integer out of range") once a table passes
// 2,147,483,647 rows in the window read — request logs and outcome events get there on real
// traffic (re-break 2026-12: the Executive page, experiment results, the rollout judge, On-call).
// Read counts as ::float8 (exact to 2^53, and a JS number as the driver returns it) or ::bigint.
//
// Production code only: test files (and server/testing/, their harness) count a few fixture rows.

const SERVER = path.resolve(import.meta.dirname, "..");



function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "node_modules" || entry.name === "generated" || full === path.join(SERVER, "testing") ? [] : sourceFiles(full);
    return /\.(ts|mts|mjs)$/.test(entry.name) && !/\.test\.ts$/.test(entry.name) ? [full] : [];
  });
}

/** The operand a `::type` cast at `at` applies to: a word, or a parenthesised group with the word before it (and `count(*) FILTER (…)`'s aggregate). */
function castOperand(text: string, at: number): string {
  let i = at;
  const word = () => {
    const end = i;
    while (i > 0 && /[\w.$]/.test(text[i - 1]!)) i--;
    return text.slice(i, end);
  };
  const group = () => {
    for (let depth = 0; i > 0; ) {
      const c = text[--i];
      if (c === ")") depth++;
      else if (c === "(" && --depth === 0) return;
    }
  };
  if (text[i - 1] !== ")") {
    word();
    return text.slice(i, at);
  }
  const space = () => {
    while (i > 0 && /\s/.test(text[i - 1]!)) i--;
  };
  group();
  const head = i;
  space();
  if (/^FILTER$/i.test(word())) {
    space();
    if (text[i - 1] === ")") {
      group();
      word();
    }
  } else {
    i = head;
    word();
  }
  return text.slice(i, at);
}

/** Every count or sum cast to int in a file's text, as the cast's source text. */
export function intCastsOfAggregates(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/::\s*(int|integer|int4)\b(?!\s*\[)/gi)) {
    const operand = castOperand(text, m.index);
    if (/\b(count|sum)\s*\(/i.test(operand)) found.push(`${operand}${m[0]}`);
  }
  for (const m of text.matchAll(/\bCAST\s*\(\s*(count|sum)\s*\([^;]*?\)\s+AS\s+(int|integer|int4)\s*\)/gi)) found.push(m[0]);
  return found;
}

describe("no count or sum in server/'s SQL is cast to int (22003 past 2^31 − 1)", () => {
  it("finds the casts it guards against, and leaves others alone", () => {
    expect(intCastsOfAggregates("SELECT count(*)::int AS n, count(DISTINCT coalesce(a, b))::integer AS units")).toEqual(["count(*)::int", "count(DISTINCT coalesce(a, b))::integer"]);
    expect(intCastsOfAggregates("count(*) FILTER (WHERE type = 'click')::int AS clicks")).toEqual(["count(*) FILTER (WHERE type = 'click')::int"]);
    expect(intCastsOfAggregates("coalesce(sum(e.count), 0)::int4 AS errors, CAST(count(*) AS int) AS m")).toEqual(["coalesce(sum(e.count), 0)::int4", "CAST(count(*) AS int)"]);
    expect(intCastsOfAggregates("count(*)::float8 AS n, count(*)::bigint, min(e.position)::int, ${x}::int, $6::int[], '1 hour'::interval, (a->>'v')::int")).toEqual([]);
  });

  it("holds for every production file", () => {
    const offenders: Record<string, string[]> = {};
    for (const file of sourceFiles(SERVER)) {
      const casts = intCastsOfAggregates(readFileSync(file, "utf8"));
      if (casts.length) offenders[path.relative(SERVER, file).split(path.sep).join("/")] = casts;
    }
    expect(offenders).toEqual({});
  });
});
