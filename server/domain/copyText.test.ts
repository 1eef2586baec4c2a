import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { COPY_NULL, copyTextField, copyTextFieldCount, copyTextLine, parseCopyTextLine } from "./copyText";

// COPY text format (PostgreSQL docs, COPY → File Formats → Text Format): hostile text must never end
// a field or a line, nor be read as NULL or the end-of-data marker. The round trip through real
// COPY is in server/telemetry/copyPath.int.test.ts.

describe("copyTextField", () => {
  it.each([
    ["plain", "plain"],
    ["back\\slash", "back\\\\slash"],
    ["tab\there", "tab\\there"],
    ["new\nline", "new\\nline"],
    ["carriage\rreturn", "carriage\\rreturn"],
    ["\\N", "\\\\N"],
    ["\\.", "\\\\."],
    ["nul\u0000here", "nul\\000here"],
    ["emoji 😀 𝄞", "emoji 😀 𝄞"],
    ['{"a":"q\\"uote","n":"x\\ny"}', '{"a":"q\\\\"uote","n":"x\\\\ny"}'],
    ["", ""],
  ])("escapes %j as %j", (value, expected) => {
    expect(copyTextField(value)).toBe(expected);
  });

  it("writes NULL, booleans, numbers and objects", () => {
    expect(copyTextField(null)).toBe(COPY_NULL);
    expect(copyTextField(undefined)).toBe(COPY_NULL);
    expect(copyTextField(true)).toBe("t");
    expect(copyTextField(false)).toBe("f");
    expect(copyTextField(3.25)).toBe("3.25");
    expect(copyTextField(-0)).toBe("0");
    // Not finite: NULL, as JSON.stringify (the json_to_recordset path) had it.
    expect(copyTextField(Number.NaN)).toBe(COPY_NULL);
    expect(copyTextField(Infinity)).toBe(COPY_NULL);
    expect(copyTextField({ k: "a\tb" })).toBe('{"k":"a\\\\tb"}');
  });

  it("never leaves a raw tab, newline or carriage return, and a field is never the NULL marker unless null", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (s) => {
        const field = copyTextField(s);
        expect(field).not.toMatch(/[\t\n\r\u0000]/);
        expect(field).not.toBe(COPY_NULL);
        expect(field).not.toBe("\\.");
      }),
    );
  });
});

describe("parseCopyTextLine", () => {
  it("reads back what copyTextLine wrote, NULLs included, for any text", () => {
    fc.assert(
      fc.property(fc.array(fc.option(fc.string({ unit: "binary" }), { nil: null }), { minLength: 1, maxLength: 8 }), (values) => {
        expect(parseCopyTextLine(copyTextLine(values))).toEqual(values);
      }),
    );
  });

  it("reads only the first fields when asked", () => {
    expect(parseCopyTextLine("a\t\\N\tc\\td\te", 3)).toEqual(["a", null, "c\td"]);
  });

  it("decodes PostgreSQL's other escapes as it does", () => {
    expect(parseCopyTextLine("\\b\\f\\v\\x41\\101\\q")).toEqual(["\b\f\vAAq"]);
  });
});

describe("copyTextFieldCount", () => {
  it("counts the fields of a line, whatever tabs its values hold", () => {
    expect(copyTextFieldCount(copyTextLine(["a", null, ""]))).toBe(3);
    expect(copyTextFieldCount(copyTextLine(["tab\there", "x"]))).toBe(2);
    expect(copyTextFieldCount("")).toBe(1);
    fc.assert(fc.property(fc.array(fc.oneof(fc.string(), fc.constant(null)), { minLength: 1, maxLength: 20 }), (values) => copyTextFieldCount(copyTextLine(values)) === values.length));
  });
});
