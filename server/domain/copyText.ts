// PostgreSQL's COPY text format, encoded and decoded in one place: the telemetry writers send their
// batches as `COPY … FROM STDIN` lines (server/telemetry/streams.ts), whose fields hold caller-controlled
// text (user and session keys, surfaces, ids, fallback reasons) and JSON texts.
//
// Source: PostgreSQL 15 documentation, COPY, "File Formats" → "Text Format"
// (https://www.postgresql.org/docs/15/sql-copy.html): one line per row, columns
// separated by the delimiter (tab), `\N` for NULL; a backslash followed by b f n r t v, by 1–3 octal
// digits or by x and 1–2 hex digits is an escape, any other backslashed character stands for itself.
// `\.` alone on a line marks the end of the data. Escaping every backslash makes a value that is
// literally `\N` or `\.` arrive as those two characters, never as a marker.

/** A field's value: text, a number, a boolean, or NULL (null or undefined). Anything else is written as its JSON text. */
export type CopyValue = string | number | boolean | null | undefined;

/** COPY text's NULL marker. */
export const COPY_NULL = "\\N";

const SPECIAL = /[\\\n\r\t\u0000]/;
const SPECIALS = /[\\\n\r\t\u0000]/g;
const ESCAPES: Record<string, string> = { "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\u0000": "\\000" };

/**
 * One field of a COPY text line: `\N` for null/undefined (and non-finite numbers: JSON's null, as the
 * json_to_recordset path read them); booleans as `t`/`f`; numbers as JavaScript prints them; text with
 * backslash, newline, carriage return and tab escaped (`\\`, `\n`, `\r`, `\t`), so no value can end a
 * field or a line, or be read as `\N` or `\.`. NUL becomes the escape `\000`, which PostgreSQL refuses
 * (SQLSTATE 22021, a data exception: the writer drops that row alone, as it did with json_to_recordset's
 * 22P05; server/validation.ts refuses NUL earlier). Other characters go as they are: characters outside
 * the BMP are UTF-8 encoded whole; a lone UTF-16 surrogate half cannot be UTF-8 encoded and arrives as
 * U+FFFD (Node's encoder replaces it; server/validation.ts refuses them earlier). Objects and arrays:
 * their JSON text.
 */
export function copyTextField(value: unknown): string {
  switch (typeof value) {
    case "string":
      return SPECIAL.test(value) ? value.replace(SPECIALS, (c) => ESCAPES[c]!) : value;
    case "number":
      return Number.isFinite(value) ? String(value) : COPY_NULL;
    case "boolean":
      return value ? "t" : "f";
    case "bigint":
      return String(value);
    case "undefined":
      return COPY_NULL;
    default: {
      if (value === null) return COPY_NULL;
      const json = JSON.stringify(value) as string | undefined;
      return json === undefined ? COPY_NULL : copyTextField(json);
    }
  }
}

/** One row as a COPY text line: its fields (copyTextField) separated by tabs, without the final newline. */
export function copyTextLine(values: readonly unknown[]): string {
  let line = "";
  for (let i = 0; i < values.length; i++) line += (i === 0 ? "" : "\t") + copyTextField(values[i]);
  return line;
}

const BACKSLASHED = /\\(?:([0-7]{1,3})|x([0-9a-fA-F]{1,2})|(.))/gs;
const NAMED: Record<string, string> = { b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v" };

/**
 * The fields of a COPY text line as PostgreSQL reads them: text (escapes decoded), or null for `\N`.
 * `limit`: read only the first `limit` fields (the rest of the line is not scanned). Octal and hex
 * escapes decode to the byte's code point (0–255), which is what they mean for ASCII; copyTextField
 * writes none but `\000`.
 */
export function parseCopyTextLine(line: string, limit = Infinity): Array<string | null> {
  const fields: Array<string | null> = [];
  let start = 0;
  while (fields.length < limit) {
    const tab = line.indexOf("\t", start);
    const raw = tab < 0 ? line.slice(start) : line.slice(start, tab);
    fields.push(raw === COPY_NULL ? null : raw.includes("\\") ? raw.replace(BACKSLASHED, decode) : raw);
    if (tab < 0) break;
    start = tab + 1;
  }
  return fields;
}

function decode(_: string, octal: string | undefined, hex: string | undefined, other: string | undefined): string {
  if (octal !== undefined) return String.fromCharCode(parseInt(octal, 8) & 0o377);
  if (hex !== undefined) return String.fromCharCode(parseInt(hex, 16));
  return NAMED[other!] ?? other!;
}

/** How many fields a COPY text line holds: its tabs plus one (a tab inside a value is always escaped, copyTextField). */
export function copyTextFieldCount(line: string): number {
  let n = 1;
  for (let at = line.indexOf("\t"); at >= 0; at = line.indexOf("\t", at + 1)) n++;
  return n;
}
