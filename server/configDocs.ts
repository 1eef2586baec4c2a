import { LIBRARY_SETTINGS, SETTINGS, type Setting } from "./config";

// The README's configuration tables, generated from server/config.ts so that the two never drift:
// `npm run docs:config` rewrites them, server/configDocs.test.ts fails when they differ.

export const TABLES_BEGIN = "<!-- config-tables: generated from server/config.ts by `npm run docs:config`; edit there, not here -->";
export const TABLES_END = "<!-- /config-tables -->";

const cell = (text: string) => text.replaceAll("|", "\\|");
const row = (cells: string[]) => `| ${cells.map(cell).join(" | ")} |`;
const HEADER = [row(["variable", "default", "accepts", "meaning"]), "|---|---|---|---|"];

function settingRow(name: string, s: Setting<unknown>): string {
  return row([`\`${name}\``, s.defaultDoc, s.expected, s.doc]);
}

/** The Markdown between the markers: the console's settings, then those of tests and benchmarks. */
export function configTables(): string {
  const entries = Object.entries(SETTINGS) as Array<[string, Setting<unknown>]>;
  const console = entries.filter(([, s]) => s.scope === "console").map(([name, s]) => settingRow(name, s));
  const library = LIBRARY_SETTINGS.map((l) => row([l.names.map((n) => `\`${n}\``).join(", "), l.defaultDoc, "—", l.doc]));
  const tests = entries.filter(([, s]) => s.scope === "tests").map(([name, s]) => settingRow(name, s));
  return [...HEADER, ...console, ...library, "", "Tests and benchmarks only:", "", ...HEADER, ...tests].join("\n");
}

/** `readme` with the text between the markers replaced by configTables(). @throws when a marker is missing. */
export function withConfigTables(readme: string): string {
  const begin = readme.indexOf(TABLES_BEGIN);
  const end = readme.indexOf(TABLES_END);
  if (begin < 0 || end < begin) throw new Error(`README.md: the markers ${TABLES_BEGIN} … ${TABLES_END} are missing`);
  return `${readme.slice(0, begin + TABLES_BEGIN.length)}\n${configTables()}\n${readme.slice(end)}`;
}
