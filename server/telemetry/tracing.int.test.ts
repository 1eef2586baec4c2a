import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setEnv } from "../config";
import { getDb } from "../db/client";
import { seedDemo } from "../db/seed";
import { rerank } from "../rerank/pipeline";
import { flushTracing, shutdownTracing, tracingEnabled } from "./tracing";

// Traces of real rerank requests, exported over OTLP/HTTP (JSON) to a receiver in this process.

interface OtlpSpan { name: string; traceId: string; spanId: string; parentSpanId?: string; attributes: Array<{ key: string; value: { stringValue?: string } }> }
const received: OtlpSpan[] = [];
const paths: string[] = [];
let receiver: Server;

beforeAll(async () => {
  await seedDemo(getDb());
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      paths.push(`${req.method} ${req.url} ${req.headers["content-type"]}`);
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: OtlpSpan[] }> }> };
      for (const rs of body.resourceSpans) for (const ss of rs.scopeSpans) received.push(...ss.spans);
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
});

afterAll(async () => {
  await shutdownTracing();
  setEnv("OTEL_EXPORTER_OTLP_ENDPOINT", undefined);
  setEnv("OTEL_TRACES_SAMPLER_ARG", undefined);
  receiver.close();
});

const request = async (requestId: string) => {
  const catalog = await getDb().catalogItem.findMany({ where: { safetyFlags: { isEmpty: true } }, select: { id: true }, take: 30, orderBy: { id: "asc" } });
  return rerank({ surface: "search", topK: 10, requestId, userKey: "tracer", candidates: catalog.map((c, i) => ({ id: c.id, retrievalScore: 1 - i / 30 })) });
};
const attr = (span: OtlpSpan, key: string) => span.attributes.find((a) => a.key === key)?.value.stringValue;

describe("OpenTelemetry traces", () => {
  it("records nothing without OTEL_EXPORTER_OTLP_ENDPOINT", async () => {
    await shutdownTracing();
    await request("untraced-1");
    expect(tracingEnabled()).toBe(false);
  });

  it("sends a span per pipeline stage, with the request id, surface and model version, to the collector", async () => {
    await shutdownTracing();
    setEnv("OTEL_EXPORTER_OTLP_ENDPOINT", `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`);
    // Every request sampled (the default samples 1 %).
    setEnv("OTEL_TRACES_SAMPLER_ARG", "1");
    const response = await request("traced-1");
    expect(tracingEnabled()).toBe(true);
    await flushTracing();
    expect(paths[0]).toBe("POST /v1/traces application/json");
    const spans = received.filter((s) => attr(s, "rerank.request_id") === "traced-1");
    expect(spans.map((s) => s.name).sort()).toEqual(["rerank", "rerank.constrain", "rerank.enrich", "rerank.interleave", "rerank.plan", "rerank.record", "rerank.score"]);
    const root = spans.find((s) => s.name === "rerank")!;
    for (const span of spans) {
      expect(span.traceId).toBe(root.traceId);
      if (span !== root) expect(span.parentSpanId).toBe(root.spanId);
      expect(attr(span, "rerank.surface")).toBe("search");
      expect(attr(span, "rerank.model_version")).toBe(`${response.modelVersion!.name}@${response.modelVersion!.version}`);
    }
    expect(received.some((s) => attr(s, "rerank.request_id") === "untraced-1")).toBe(false);
  });

  it("samples by ratio (OTEL_TRACES_SAMPLER_ARG): at 0 a request served by the model sends no span", async () => {
    await shutdownTracing();
    setEnv("OTEL_EXPORTER_OTLP_ENDPOINT", `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`);
    setEnv("OTEL_TRACES_SAMPLER_ARG", "0");
    const response = await request("unsampled-1");
    expect(response.fallback.used).toBe(false);
    expect(tracingEnabled()).toBe(true);
    await flushTracing();
    expect(received.some((s) => attr(s, "rerank.request_id") === "unsampled-1")).toBe(false);
  });
});
