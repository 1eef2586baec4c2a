import { isSpanContextValid, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type Attributes, type Context, type Link, type Tracer } from "@opentelemetry/api";
import { ExportResultCode, W3CTraceContextPropagator, type ExportResult } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler, AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, SamplingDecision, TraceIdRatioBasedSampler,
  type ReadableSpan, type Sampler, type SamplingResult, type SpanExporter,
} from "@opentelemetry/sdk-trace-base";
import { env } from "../config";
import { metrics } from "./metrics";

// OpenTelemetry traces of the rerank pipeline, exported over OTLP/HTTP (JSON) when
// OTEL_EXPORTER_OTLP_ENDPOINT is set: one "rerank" span per request with a child span per stage
// (plan, enrich, score, rescore on a cascade surface, constrain, interleave, record), each carrying the request id, the surface
// and the model version. Without the endpoint nothing is started and a request pays one property
// read: the stage clock below runs anyway (it gives the response's timings), and spans are made
// from its marks after the response is built, so the stages themselves never touch the tracer.
// Head sampling (OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG; by default ParentBased(TraceIdRatioBased
// 0.01)): a request not sampled costs one span decision, no attributes and no child spans; requests
// served by a fallback are sampled always when the sampler has a ratio.
// A caller's W3C `traceparent` (and `tracestate`) header is honoured on the HTTP endpoints: the
// request's spans join the caller's trace. Its sampled flag and its trace id cannot make the server
// trace more than the configured ratio (a third of throughput at 100 %): a request with a remote
// parent is sampled by a random draw at OTEL_TRACES_SAMPLER_ARG, never by the caller's flag nor by
// the caller-chosen trace id (TraceIdRatioBased would sample a crafted id such as 000…001 always).
// Under `parentbased_*` a caller's "not sampled" is still followed (it only lowers the cost).
// Failed exports are counted (rerank_trace_export_failures_total) and logged at most once a minute.

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
 * Samples `ratio` of requests without letting a caller choose: a span whose parent is remote (the
 * caller's traceparent) is sampled by a random draw, since the caller picks that trace id; a span
 * with a local parent follows it (the stage spans follow their request's span); a new trace (our own
 * random trace id) by TraceIdRatioBased, as the specification's `traceidratio`.
 */
export class CallerProofRatioSampler implements Sampler {
  private readonly byTraceId: TraceIdRatioBasedSampler;

  constructor(private readonly ratio: number, private readonly random: () => number = Math.random) {
    this.byTraceId = new TraceIdRatioBasedSampler(ratio);
  }

  shouldSample(ctx: Context, traceId: string): SamplingResult {
    const parent = trace.getSpanContext(ctx);
    if (!parent || !isSpanContextValid(parent)) return this.byTraceId.shouldSample(ctx, traceId);
    const sampled = parent.isRemote ? this.random() < this.ratio : (parent.traceFlags & TraceFlags.SAMPLED) !== 0;
    return { decision: sampled ? SamplingDecision.RECORD_AND_SAMPLED : SamplingDecision.NOT_RECORD };
  }

  toString(): string {
    return `CallerProofRatio{${this.ratio}}`;
  }
}

/**
 * The sampler named by OTEL_TRACES_SAMPLER as the OpenTelemetry specification defines the names
 * (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/#general-sdk-configuration),
 * with one change: a caller cannot raise the share traced (review item 14). `ratio`
 * (OTEL_TRACES_SAMPLER_ARG, 0..1) is the share of the traceidratio ones, which also sample every
 * request served by a fallback (FallbacksAlwaysSampler); under `parentbased_*` a remote parent's
 * "sampled" flag gets that same ratio instead of "always" (except `parentbased_always_on`, which
 * traces everything anyway): with `parentbased_always_off`, only requests their callers sample, at
 * most `ratio` of them.
 */
export function samplerOf(name: string, ratio: number, random: () => number = Math.random): Sampler {
  const byRatio = new FallbacksAlwaysSampler(new CallerProofRatioSampler(ratio, random));
  const root = name.endsWith("always_on") ? new AlwaysOnSampler() : name.endsWith("always_off") ? new AlwaysOffSampler() : byRatio;
  if (!name.startsWith("parentbased_")) return root;
  return new ParentBasedSampler({ root, remoteParentSampled: name === "parentbased_always_on" ? new AlwaysOnSampler() : byRatio });
}

/** At most one warning line per this many milliseconds about failed trace exports. */
export const EXPORT_WARNING_INTERVAL_MS = 60_000;

/**
 * The OTLP exporter, with its failures made visible: each failed export counts its spans in
 * rerank_trace_export_failures_total{reason} and logs one warning line, at most one a minute
 * (EXPORT_WARNING_INTERVAL_MS; the line says how many failures it stands for).
 */
export class ObservedExporter implements SpanExporter {
  private lastWarning = -Infinity;
  private unreported = 0;

  constructor(private readonly inner: SpanExporter, private readonly endpoint: string, private readonly now: () => number = Date.now, private readonly warn: (line: string) => void = console.warn) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      if (result.code !== ExportResultCode.SUCCESS) this.failed(spans.length, result.error);
      done(result);
    });
  }

  private failed(spans: number, error: Error | undefined): void {
    metrics.traceExportFailures.inc({ reason: error?.name ?? "unknown" });
    metrics.traceSpansDropped.inc(spans);
    this.unreported++;
    if (this.now() - this.lastWarning < EXPORT_WARNING_INTERVAL_MS) return;
    this.lastWarning = this.now();
    this.warn(`[tracing] OTLP export to ${this.endpoint} failed (${this.unreported} failed export${this.unreported === 1 ? "" : "s"} since the last warning; ${spans} spans dropped in the last): ${error?.message ?? "unknown error"}`);
    this.unreported = 0;
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

const propagator = new W3CTraceContextPropagator();
const headerGetter = {
  keys: (carrier: Record<string, string | string[] | undefined>) => Object.keys(carrier),
  get: (carrier: Record<string, string | string[] | undefined>, key: string) => carrier[key],
};

/**
 * The caller's trace context from its W3C Trace Context headers (`traceparent`, `tracestate`;
 * https://www.w3.org/TR/trace-context/), for the request's spans to join; ROOT_CONTEXT when
 * tracing is off or the headers are absent or malformed. `headers`: node's lower-cased header map.
 */
export function incomingTraceContext(headers: Record<string, string | string[] | undefined>): Context {
  if (!tracingEnabled() || headers.traceparent === undefined) return ROOT_CONTEXT;
  return propagator.extract(ROOT_CONTEXT, headers, headerGetter);
}

/**
 * Runs `work` inside a server span `name` that is a child of `parent` (the caller's trace context);
 * the span records an exception and an error status when `work` throws. Without tracing, just `work()`.
 */
export async function traced<T>(name: string, parent: Context, work: () => Promise<T>): Promise<T> {
  const { tracer } = tracing();
  if (!tracer) return work();
  const span = tracer.startSpan(name, { kind: SpanKind.SERVER }, parent);
  try {
    return await work();
  } catch (error) {
    span.recordException(error as Error);
    span.setStatus({ code: SpanStatusCode.ERROR });
    throw error;
  } finally {
    span.end();
  }
}

interface Tracing {
  tracer: Tracer | null;
  provider: BasicTracerProvider | null;
  exporter: SpanExporter | null;
}

// One per process, on globalThis: Next's bundle and the front door each load their own copy of this module.
const holder = globalThis as unknown as { __rerankTracing?: Tracing };

function tracing(): Tracing {
  if (holder.__rerankTracing) return holder.__rerankTracing;
  const endpoint = env().OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!endpoint) return (holder.__rerankTracing = { tracer: null, provider: null, exporter: null });
  const exporter = exporterOf(`${endpoint.replace(/\/$/, "")}/v1/traces`);
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": env().OTEL_SERVICE_NAME }),
    sampler: samplerOf(env().OTEL_TRACES_SAMPLER, env().OTEL_TRACES_SAMPLER_ARG),
    spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 1000 })],
  });
  return (holder.__rerankTracing = { tracer: provider.getTracer("rerank-console"), provider, exporter });
}

const exporterOf = (url: string) => new ObservedExporter(new OTLPTraceExporter({ url }), url);

/** Whether spans are recorded (OTEL_EXPORTER_OTLP_ENDPOINT is set). */
export function tracingEnabled(): boolean {
  return tracing().tracer !== null;
}

/**
 * Sends the spans recorded so far and waits until every export has been answered (tests, shutdown).
 * The batch processor's forceFlush sends only the spans still buffered: a batch its timer sent a
 * moment before is still in flight then (a CI run's trace test read the collector too early), so
 * the exporter's own forceFlush, which awaits its sends, follows.
 */
export async function flushTracing(): Promise<void> {
  await holder.__rerankTracing?.provider?.forceFlush();
  await holder.__rerankTracing?.exporter?.forceFlush?.();
}

/** Flushes and stops the exporter; the next request reads OTEL_EXPORTER_OTLP_ENDPOINT again. */
export async function shutdownTracing(): Promise<void> {
  const current = holder.__rerankTracing;
  holder.__rerankTracing = undefined;
  await current?.provider?.shutdown();
}

/**
 * The pipeline's stages in order; `resolve`, `features`, `score` and `constraints` are the response's
 * timings. `rescore` (stage 2 of a cascade) runs only on surfaces that have one.
 */
export type StageName = "plan" | "enrich" | "score" | "rescore" | "constrain" | "interleave" | "record";

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

  /** Milliseconds from the request's start to the last stage's end: the latency the client sees. */
  totalMs(): number {
    return (this.ends.at(-1) ?? performance.now()) - this.started;
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
   * fallback (sampled always under a ratio sampler). `parent`: the caller's trace context
   * (incomingTraceContext), so the spans join its trace; the root of a new trace by default.
   */
  trace(attributesOf: () => Attributes, fallback = false, parent: Context = ROOT_CONTEXT): void {
    const { tracer } = tracing();
    if (!tracer) return;
    const at = (ms: number) => performance.timeOrigin + ms;
    const root = tracer.startSpan("rerank", { kind: SpanKind.SERVER, startTime: at(this.started), attributes: { [FALLBACK_ATTRIBUTE]: fallback } }, parent);
    if (!root.isRecording()) return;
    const attributes = { ...attributesOf(), [FALLBACK_ATTRIBUTE]: fallback };
    root.setAttributes(attributes);
    const inRoot = trace.setSpan(parent, root);
    this.names.forEach((name, i) => {
      tracer.startSpan(`rerank.${name}`, { startTime: at(i === 0 ? this.started : this.ends[i - 1]!), attributes }, inRoot).end(at(this.ends[i]!));
    });
    root.end(at(this.ends.at(-1) ?? performance.now()));
  }
}
