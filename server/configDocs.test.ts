import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { SETTINGS } from "./config";
import { TABLES_BEGIN, TABLES_END, configTables, withConfigTables } from "./configDocs";

describe("README configuration tables", () => {
  const readme = readFileSync(path.join(process.cwd(), "README.md"), "utf8");

  it("are what server/config.ts generates (run npm run docs:config)", () => {
    const inReadme = readme.slice(readme.indexOf(TABLES_BEGIN) + TABLES_BEGIN.length, readme.indexOf(TABLES_END)).trim();
    expect(inReadme, "README.md's configuration tables differ from server/config.ts: run npm run docs:config").toBe(configTables());
  });

  it("list every setting once, with its default and accepted values", () => {
    const tables = configTables();
    for (const name of Object.keys(SETTINGS)) expect(tables.match(new RegExp(`^\\| \`${name}\` \\|`, "gm")), name).toHaveLength(1);
    expect(tables).toContain("| `DATABASE_POOL_SIZE` | `10` | an integer from 1 to 200 | connections per server process |");
  });

  it("rewriting changes only the text between the markers, and refuses a README without them", () => {
    const before = `intro\n${TABLES_BEGIN}\nold table\n${TABLES_END}\noutro\n`;
    expect(withConfigTables(before)).toBe(`intro\n${TABLES_BEGIN}\n${configTables()}\n${TABLES_END}\noutro\n`);
    expect(withConfigTables(withConfigTables(before))).toBe(withConfigTables(before));
    expect(() => withConfigTables("no markers")).toThrow(/markers/);
  });
});
