import { describe, expect, it } from "vitest";
import { documentText } from "./bundle";

describe("documentText", () => {
  it("joins the document's own fields only: a field named like an Object property it does not have adds nothing", () => {
    expect(documentText({ title: "Red shoe", body: 3 }, ["title", "__proto__", "constructor", "toString", "body"])).toBe("Red shoe 3");
    const own = JSON.parse('{"title": "a", "__proto__": "b", "constructor": {"c": 1}}') as Record<string, unknown>;
    expect(documentText(own, ["title", "__proto__", "constructor"])).toBe('a b {"c":1}');
    expect(documentText("plain text", ["title"])).toBe("plain text");
  });
});
