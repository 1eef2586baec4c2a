import { ROOT_CONTEXT, SpanKind, trace, TraceFlags } from "@opentelemetry/api";
import { RandomIdGenerator, SamplingDecision } from "@opentelemetry/sdk-trace-base";
import { describe, expect, it } from "vitest";
import { samplerOf } from "./tracing";

// Head sampling of rerank traces: OTEL_TRACES_SAMPLER's names as the OpenTelemetry specification
// defines them, built from the SDK's samplers; requests served by a fallback always sampled under a ratio.

const ids = new RandomIdGenerator();
const decide = (name: string, ratio: number, fallback: boolean, ctx = ROOT_CONTEXT) =>
  samplerOf(name, ratio).shouldSample(ctx, ids.generateTraceId(), "rerank", SpanKind.INTERNAL, { "rerank.fallback": fallback }, []).decision;

describe("trace sampling", () => {
  it("samples about the ratio of requests by trace id (0.01 of 20,000: 200, within 4.5 standard deviations)", () => {
    let sampled = 0;
    for (let i = 0; i < 20_000; i++) if (decide("parentbased_traceidratio", 0.01, false) === SamplingDecision.RECORD_AND_SAMPLED) sampled++;
    // Binomial(20,000, 0.01): mean 200, standard deviation √(20,000 × 0.01 × 0.99) ≈ 14.1.
    expect(Math.abs(sampled - 200)).toBeLessThan(4.5 * 14.1);
  });

  it("samples nothing at ratio 0 and everything at ratio 1, except that a fallback is always sampled under a ratio", () => {
    expect(decide("parentbased_traceidratio", 0, false)).toBe(SamplingDecision.NOT_RECORD);
    expect(decide("parentbased_traceidratio", 0, true)).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(decide("traceidratio", 0, true)).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(decide("traceidratio", 1, false)).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(decide("always_off", 1, true)).toBe(SamplingDecision.NOT_RECORD);
    expect(decide("parentbased_always_on", 0, false)).toBe(SamplingDecision.RECORD_AND_SAMPLED);
  });

  it("follows a sampled parent's decision under parentbased_ samplers", () => {
    const parent = trace.setSpanContext(ROOT_CONTEXT, { traceId: ids.generateTraceId(), spanId: ids.generateSpanId(), traceFlags: TraceFlags.SAMPLED });
    expect(decide("parentbased_traceidratio", 0, false, parent)).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(decide("traceidratio", 0, false, parent)).toBe(SamplingDecision.NOT_RECORD);
  });
});
