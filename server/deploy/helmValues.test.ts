import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

// Review item 13: values.yaml told users to "set persistence", an option values.schema.json (with
// additionalProperties: false) rejects. Every option a comment tells the user to set must exist.

const CHART = path.join(process.cwd(), "deploy", "helm", "rerank-console");

interface SchemaNode { properties?: Record<string, SchemaNode> }

/** Every option path of the chart's values schema ("spill.sizeLimit", "existingSecret", …). */
function optionPaths(node: SchemaNode, prefix = ""): string[] {
  return Object.entries(node.properties ?? {}).flatMap(([key, child]) => [`${prefix}${key}`, ...optionPaths(child, `${prefix}${key}.`)]);
}

/** The option names comments tell the reader to set ("set persistence", "with firstAdmin", "autoscaling.maxReplicas"). */
function optionsNamedInComments(yaml: string): string[] {
  const comments = yaml.split("\n").map((line) => /#(.*)$/.exec(line)?.[1] ?? "").join(" ");
  const named = [
    ...[...comments.matchAll(/\bset\s+([a-z][A-Za-z0-9]*(?:\.[A-Za-z0-9_]+)*)/g)].map((m) => m[1]!),
    ...[...comments.matchAll(/\bwith\s+([a-z]+[A-Z][A-Za-z0-9]*)\b/g)].map((m) => m[1]!),
    ...[...comments.matchAll(/\b([a-z][A-Za-z0-9]*\.[a-z][A-Za-z0-9]*)\b/g)].map((m) => m[1]!).filter((name) => !/\.(ts|json|yaml|yml|md)$/.test(name)),
  ];
  return [...new Set(named)];
}

describe("the Helm chart's values.yaml", () => {
  const schema = JSON.parse(readFileSync(path.join(CHART, "values.schema.json"), "utf8")) as SchemaNode;
  const paths = optionPaths(schema);
  const unknown = (yaml: string) => optionsNamedInComments(yaml).filter((name) => !paths.some((p) => p === name || p.endsWith(`.${name}`)));

  it("names in its comments only options values.schema.json accepts", () => {
    const yaml = readFileSync(path.join(CHART, "values.yaml"), "utf8");
    expect(optionsNamedInComments(yaml)).toEqual(expect.arrayContaining(["existingSecret", "firstAdmin", "autoscaling.maxReplicas"]));
    expect(unknown(yaml)).toEqual([]);
  });

  it("the check catches the comment of review item 13", () => {
    expect(unknown("# An emptyDir survives container restarts,\n# not the pod: set persistence to keep them across rescheduling.\nspill: {}\n")).toEqual(["persistence"]);
  });
});
