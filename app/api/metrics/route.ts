import { authorizeHttp } from "@/server/auth/http";
import { env } from "@/server/config";
import { answeringErrors, refusalResponse } from "@/server/http/routeErrors";
import { PROMETHEUS_CONTENT_TYPE, prometheusText } from "@/server/telemetry/clusterMetrics";

export const dynamic = "force-dynamic";

/**
 * Prometheus text format; open by default, behind a key (any role's read permission) with
 * METRICS_AUTH=on. With WORKERS > 1 the figures are the sum over every worker of the server.
 */
export const GET = answeringErrors("GET /api/metrics", async (req: Request) => {
  if (env().METRICS_AUTH === "on") {
    const access = await authorizeHttp(req.headers, "console.read");
    if (!access.ok) return refusalResponse(access);
  }
  return new Response(await prometheusText(), { headers: { "content-type": PROMETHEUS_CONTENT_TYPE } });
});
