import { getDb } from "@/server/db/client";
import { getHealth } from "@/server/system/health";

export const dynamic = "force-dynamic";

/** 200 when the database answers, 503 (with the same body) when it does not. Public (load balancers probe it): no model list. */
export async function GET() {
  const health = await getHealth(getDb(), { withModels: false });
  return Response.json(health, { status: health.status === "ok" ? 200 : 503 });
}
