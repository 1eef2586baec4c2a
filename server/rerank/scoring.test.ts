import { describe, expect, it } from "vitest";
import { defaultFields } from "./scoring";

describe("defaultFields", () => {
  it("ranks an object document on the model's textFields when it has one of them, else on Cohere's `text`", () => {
    expect(defaultFields({ title: "Lamp", text: "x" }, ["title", "category"])).toEqual(["title", "category"]);
    expect(defaultFields({ text: "a lamp" }, ["title", "category"])).toEqual(["text"]);
    expect(defaultFields("plain text", ["title"])).toEqual(["title"]);
  });

  it("counts only the document's own fields: a textField named like an Object.prototype member is not inherited", () => {
    expect(defaultFields({ text: "a lamp" }, ["constructor", "toString"])).toEqual(["text"]);
    expect(defaultFields(JSON.parse('{"constructor":"Lamp"}') as Record<string, unknown>, ["constructor"])).toEqual(["constructor"]);
  });
});
