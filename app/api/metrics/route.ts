import { authorizeHttp } from "@/server/auth/http";
import { env } from "@/server/config";
import { metrics } from "@/server/telemetry/metrics";
import { publishTelemetryStats } from "@/server/telemetry/streams";

export const dynamic = "force-dynamic";

/** Prometheus text format; open by default, behind a key (any role's read permission) with METRICS_AUTH=on. */
export async function GET(req: Request) {
  if (env().METRICS_AUTH === "on") {
    const access = await authorizeHttp(req.headers, "console.read");
    if (!access.ok) return Response.json({ error: { code: access.code, message: access.message } }, { status: access.status });
  }
  publishTelemetryStats();
  return new Response(await metrics.registry.metrics(), { headers: { "content-type": metrics.registry.contentType } });
}
