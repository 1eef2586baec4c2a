import { context, trace, type Attributes, type Context, type Link, type SpanKind, type Tracer } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler, AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, SamplingDecision, TraceIdRatioBasedSampler,
  type Sampler, type SamplingResult,
} from "@opentelemetry/sdk-trace-base";
import { env } from "../config";

// OpenTelemetry traces of the rerank pipeline, exported over OTLP/HTTP (JSON) when
// OTEL_EXPORTER_OTLP_ENDPOINT is set: one "rerank" span per request with a child span per stage
// (plan, enrich, score, constrain, interleave, record), each carrying the request id, the surface
// and the model version. Without the endpoint nothing is started and a request pays one property
// read: the stage clock below runs anyway (it gives the response's timings), and spans are made
// from its marks after the response is built, so the stages themselves never touch the tracer.
// Head sampling (OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG; by default ParentBased(TraceIdRatioBased
// 0.01)): a request not sampled costs one span decision, no attributes and no child spans; requests
// served by a fallback are sampled always when the sampler has a ratio.

/** The span attribute the sampler reads: the request was served by a fallback (cascade or retrieval order). */
const FALLBACK_ATTRIBUTE = "rerank.fallback";

/** Samples every span whose FALLBACK_ATTRIBUTE is true, else asks `inner`. */
class FallbacksAlwaysSampler implements Sampler {
  constructor(private readonly inner: Sampler) {}

  shouldSample(ctx: Context, traceId: string, name: string, kind: SpanKind, attributes: Attributes, links: Link[]): SamplingResult {
    if (attributes[FALLBACK_ATTRIBUTE] === true) return { decision: SamplingDecision.RECORD_AND_SAMPLED };
    return this.inner.shouldSample(ctx, traceId, name, kind, attributes, links);
  }

  toString(): string {
    return `FallbacksAlways{${this.inner.toString()}}`;
  }
}

/**
 * The sampler named by OTEL_TRACES_SAMPLER as the OpenTelemetry specification defines the names
 * (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/#general-sdk-configuration),
 * built from the SDK's samplers; `ratio` (OTEL_TRACES_SAMPLER_ARG, 0..1) for the traceidratio ones,
 * which also sample every request served by a fallback.
 */
export function samplerOf(name: string, ratio: number): Sampler {
  const root = name.endsWith("always_on") ? new AlwaysOnSampler() : name.endsWith("always_off") ? new AlwaysOffSampler() : new FallbacksAlwaysSampler(new TraceIdRatioBasedSampler(ratio));
  return name.startsWith("parentbased_") ? new ParentBasedSampler({ root }) : root;
}

interface Tracing {
  tracer: Tracer | null;
  provider: BasicTracerProvider | null;
}

// One per process, on globalThis: Next's bundle and the front door each load their own copy of this module.
const holder = globalThis as unknown as { __rerankTracing?: Tracing };

function tracing(): Tracing {
  if (holder.__rerankTracing) return holder.__rerankTracing;
  const endpoint = env().OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!endpoint) return (holder.__rerankTracing = { tracer: null, provider: null });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": env().OTEL_SERVICE_NAME }),
    sampler: samplerOf(env().OTEL_TRACES_SAMPLER, env().OTEL_TRACES_SAMPLER_ARG),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${endpoint.replace(/\/$/, "")}/v1/traces` }), { scheduledDelayMillis: 1000 })],
  });
  return (holder.__rerankTracing = { tracer: provider.getTracer("rerank-console"), provider });
}

/** Whether spans are recorded (OTEL_EXPORTER_OTLP_ENDPOINT is set). */
export function tracingEnabled(): boolean {
  return tracing().tracer !== null;
}

/** Sends the spans recorded so far (tests, shutdown). */
export async function flushTracing(): Promise<void> {
  await holder.__rerankTracing?.provider?.forceFlush();
}

/** Flushes and stops the exporter; the next request reads OTEL_EXPORTER_OTLP_ENDPOINT again. */
export async function shutdownTracing(): Promise<void> {
  const current = holder.__rerankTracing;
  holder.__rerankTracing = undefined;
  await current?.provider?.shutdown();
}

/** The pipeline's stages in order; `resolve`, `features`, `score` and `constraints` are the response's timings. */
export type StageName = "plan" | "enrich" | "score" | "constrain" | "interleave" | "record";

/** Marks the end of each stage of one request (performance.now() ms), from the request's start. */
export class StageClock {
  readonly started = performance.now();
  private readonly names: StageName[] = [];
  private readonly ends: number[] = [];

  /** Records that `stage` ended now and passes its result through. */
  end<T>(stage: StageName, result: T): T {
    this.names.push(stage);
    this.ends.push(performance.now());
    return result;
  }

  /** Milliseconds spent in `stage` (0 if it did not run). */
  ms(stage: StageName): number {
    const i = this.names.indexOf(stage);
    return i < 0 ? 0 : this.ends[i]! - (i === 0 ? this.started : this.ends[i - 1]!);
  }

  /**
   * When tracing is on and the sampler samples this request, the request's span and one child span
   * per stage, timed by the marks, each with the `attributes` (request id, surface, model version).
   * A no-op otherwise (`attributes` is not called). `fallback`: the request was served by a
   * fallback (sampled always under a ratio sampler).
   */
  trace(attributesOf: () => Attributes, fallback = false): void {
    const { tracer } = tracing();
    if (!tracer) return;
    const at = (ms: number) => performance.timeOrigin + ms;
    const root = tracer.startSpan("rerank", { startTime: at(this.started), attributes: { [FALLBACK_ATTRIBUTE]: fallback } });
    if (!root.isRecording()) return;
    const attributes = { ...attributesOf(), [FALLBACK_ATTRIBUTE]: fallback };
    root.setAttributes(attributes);
    const parent = trace.setSpan(context.active(), root);
    this.names.forEach((name, i) => {
      tracer.startSpan(`rerank.${name}`, { startTime: at(i === 0 ? this.started : this.ends[i - 1]!), attributes }, parent).end(at(this.ends[i]!));
    });
    root.end(at(this.ends.at(-1) ?? performance.now()));
  }
}
