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

  it("a span of this process follows its local parent (the stage spans follow their request's span)", () => {
    const parent = trace.setSpanContext(ROOT_CONTEXT, { traceId: ids.generateTraceId(), spanId: ids.generateSpanId(), traceFlags: TraceFlags.SAMPLED });
    const unsampled = trace.setSpanContext(ROOT_CONTEXT, { traceId: ids.generateTraceId(), spanId: ids.generateSpanId(), traceFlags: TraceFlags.NONE });
    expect(decide("parentbased_traceidratio", 0, false, parent)).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(decide("traceidratio", 0, false, parent)).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(decide("traceidratio", 1, false, unsampled)).toBe(SamplingDecision.NOT_RECORD);
  });

  // Review item 14: a caller sending `traceparent: 00-…-01` forced every request to be traced.
  const remote = (traceId: string, flags: TraceFlags) => trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId: ids.generateSpanId(), traceFlags: flags, isRemote: true });
  const crafted = "00000000000000000000000000000001"; // passes TraceIdRatioBased at any ratio above 0

  it("a caller's sampled flag does not force tracing: a remote sampled parent gets the configured ratio", () => {
    for (const name of ["parentbased_traceidratio", "traceidratio", "parentbased_always_off"]) {
      expect(decide(name, 0, false, remote(ids.generateTraceId(), TraceFlags.SAMPLED)), name).toBe(SamplingDecision.NOT_RECORD);
      expect(decide(name, 1, false, remote(ids.generateTraceId(), TraceFlags.SAMPLED)), name).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    }
    expect(decide("parentbased_always_on", 0, false, remote(ids.generateTraceId(), TraceFlags.SAMPLED))).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(decide("parentbased_traceidratio", 1, false, remote(ids.generateTraceId(), TraceFlags.NONE))).toBe(SamplingDecision.NOT_RECORD); // "not sampled" is followed
  });

  it("nor does a crafted trace id: 20,000 sampled requests with trace id 0…01 at ratio 0.01 are traced about 200 times, by a draw", () => {
    let sampled = 0;
    for (let i = 0; i < 20_000; i++) if (decide("parentbased_traceidratio", 0.01, false, remote(crafted, TraceFlags.SAMPLED)) === SamplingDecision.RECORD_AND_SAMPLED) sampled++;
    expect(Math.abs(sampled - 200)).toBeLessThan(4.5 * 14.1); // Binomial(20,000, 0.01), as above
    // The draw decides, not the trace id: with a draw of 0.5 and ratio 0.4 the crafted id is not sampled.
    const decideWith = (draw: number) => samplerOf("traceidratio", 0.4, () => draw).shouldSample(remote(crafted, TraceFlags.NONE), crafted, "rerank", SpanKind.SERVER, {}, []).decision;
    expect(decideWith(0.5)).toBe(SamplingDecision.NOT_RECORD);
    expect(decideWith(0.3)).toBe(SamplingDecision.RECORD_AND_SAMPLED);
  });
});
