import { metrics } from "@/server/telemetry/metrics";
import { publishTelemetryStats } from "@/server/telemetry/streams";

export const dynamic = "force-dynamic";

/** Prometheus text format. */
export async function GET() {
  publishTelemetryStats();
  return new Response(await metrics.registry.metrics(), { headers: { "content-type": metrics.registry.contentType } });
}
