export const dynamic = "force-dynamic";

/**
 * Liveness without dependencies, for load balancers: 200 while the process serves HTTP, whatever
 * the database does (GET /api/health checks the database). Also the benchmark's measure of what
 * Next.js itself costs per request.
 */
export function GET() {
  return new Response("ok", { headers: { "content-type": "text/plain", "cache-control": "no-store" } });
}
