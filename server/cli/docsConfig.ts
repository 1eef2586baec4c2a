import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { withConfigTables } from "../configDocs";

/** npm run docs:config: rewrites README.md's configuration tables from server/config.ts. */
const readmePath = path.join(process.cwd(), "README.md");
const before = readFileSync(readmePath, "utf8");
const after = withConfigTables(before);
if (after === before) {
  console.log("README.md: the configuration tables are up to date");
} else {
  writeFileSync(readmePath, after);
  console.log("README.md: configuration tables rewritten from server/config.ts");
}
