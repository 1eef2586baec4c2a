import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { PARTITIONED_TABLES } from "../db/partitions";

// docs/SCALE-OUT.md sketches the telemetry seam (server/telemetry/sink.ts) and a ClickHouse sink
// behind it. The break test of issue 15 found the sketch a stream short (scoringSamples) and the
// page counting "three" partitioned logs where there are four: the doc is checked against the code.

const read = (file: string) => readFileSync(path.join(process.cwd(), file), "utf8");
const doc = read("docs/SCALE-OUT.md");
const interfaceBody = (text: string) => /interface TelemetrySink \{([^]*?)\n\}/.exec(text)?.[1] ?? "";
/** The member names of an interface body: `readonly x:` and `x(` at the start of a line (comments skipped). */
const members = (body: string) =>
  [...body.replace(/\/\*[^]*?\*\//g, "").matchAll(/^\s*(?:readonly\s+)?([A-Za-z_]\w*)\s*[:(]/gm)].map((m) => m[1]!).sort();

describe("docs/SCALE-OUT.md", () => {
  const real = members(interfaceBody(read("server/telemetry/sink.ts")));

  it("sketches TelemetrySink with every member of the real interface", () => {
    expect(real).toEqual(expect.arrayContaining(["close", "events", "isRowError", "name", "requests", "scoringSamples", "shadow"]));
    expect(members(interfaceBody(doc))).toEqual(real);
  });

  it("has the ClickHouse sketch return every member of the interface", () => {
    const sketch = /export function clickhouseTelemetrySink[^]*?return \{([^]*?)\n {2}\};/.exec(doc)?.[1] ?? "";
    const returned = [...sketch.matchAll(/^\s{4}([A-Za-z_]\w*)\s*:/gm)].map((m) => m[1]!).sort();
    expect(returned).toEqual(real);
  });

  it("names every partitioned log and counts them right", () => {
    const intro = doc.split("\n## ")[0]!;
    for (const { table } of PARTITIONED_TABLES) expect(intro).toContain(`\`${table}\``);
    const words = ["one", "two", "three", "four", "five", "six"];
    expect(intro).toContain(`${words[PARTITIONED_TABLES.length - 1]} high-volume logs`);
  });
});
