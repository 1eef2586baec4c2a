// Parser for LETOR data in SVMlight form without `qid:` (LightGBM's lambdarank example):
// `label idx:value idx:value …` one document a line, 1-based sparse feature indices (absent = 0),
// and a separate `.query` file giving how many consecutive lines belong to each query.

export interface LetorData {
  rows: number;
  numFeatures: number;
  /** Row-major [rows × numFeatures]; column j holds file feature index j + 1. */
  features: Float32Array;
  /** Graded relevance, one per row. */
  labels: Float64Array;
  /** Sizes of consecutive query groups; they sum to `rows`. */
  groups: number[];
}

export interface ParseLetorOptions {
  /** Width of the feature matrix; defaults to the largest index seen. Force it so train and test share one width. */
  numFeatures?: number;
  /** Names the files in error messages. */
  dataName?: string;
  queryName?: string;
}

export class LetorParseError extends Error {}

interface ParsedLine {
  label: number;
  indices: number[];
  values: number[];
}

export function parseLetor(text: string, queryText: string, options: ParseLetorOptions = {}): LetorData {
  const dataName = options.dataName ?? "data";
  const queryName = options.queryName ?? "query file";
  const forced = options.numFeatures;
  if (forced !== undefined && (!Number.isInteger(forced) || forced < 1)) throw new RangeError(`numFeatures must be a positive integer, got ${forced}`);

  const parsed: ParsedLine[] = [];
  let maxIndex = 0;
  const lines = text.split("\n");
  for (let n = 0; n < lines.length; n++) {
    const where = `${dataName} line ${n + 1}`;
    // Anything after `#` is a comment in SVMlight.
    const content = lines[n]!.replace(/#.*/, "").trim();
    if (content === "") continue;
    const tokens = content.split(/\s+/);
    const label = Number(tokens[0]);
    if (!Number.isFinite(label) || tokens[0] === "") throw new LetorParseError(`${where}: label "${tokens[0]}" is not a number`);
    const indices: number[] = [];
    const values: number[] = [];
    let previous = 0;
    for (let t = 1; t < tokens.length; t++) {
      const token = tokens[t]!;
      const colon = token.indexOf(":");
      if (colon <= 0 || colon === token.length - 1) throw new LetorParseError(`${where}: "${token}" is not an index:value pair`);
      const key = token.slice(0, colon);
      // Grouping comes from the query file; a qid column, if present, is redundant.
      if (key === "qid") continue;
      const index = Number(key);
      if (!Number.isInteger(index) || index < 1) throw new LetorParseError(`${where}: feature index "${key}" is not a positive integer`);
      if (index <= previous) throw new LetorParseError(`${where}: feature index ${index} follows ${previous}; indices must increase`);
      if (forced !== undefined && index > forced) throw new LetorParseError(`${where}: feature index ${index} exceeds the ${forced} features expected`);
      const value = Number(token.slice(colon + 1));
      if (!Number.isFinite(value)) throw new LetorParseError(`${where}: value "${token.slice(colon + 1)}" of feature ${index} is not a finite number`);
      previous = index;
      indices.push(index - 1);
      values.push(value);
    }
    if (previous > maxIndex) maxIndex = previous;
    parsed.push({ label, indices, values });
  }

  const groups: number[] = [];
  const queryLines = queryText.split("\n");
  for (let n = 0; n < queryLines.length; n++) {
    const content = queryLines[n]!.trim();
    if (content === "") continue;
    const size = Number(content);
    if (!Number.isInteger(size) || size < 1) throw new LetorParseError(`${queryName} line ${n + 1}: "${content}" is not a positive document count`);
    groups.push(size);
  }
  const covered = groups.reduce((s, g) => s + g, 0);
  if (covered !== parsed.length) throw new LetorParseError(`${queryName} groups ${covered} documents but ${dataName} has ${parsed.length} rows`);

  const numFeatures = forced ?? maxIndex;
  const features = new Float32Array(parsed.length * numFeatures);
  const labels = new Float64Array(parsed.length);
  parsed.forEach((row, r) => {
    labels[r] = row.label;
    const base = r * numFeatures;
    row.indices.forEach((j, t) => (features[base + j] = row.values[t]!));
  });
  return { rows: parsed.length, numFeatures, features, labels, groups };
}
