// Next.js calls register() once when the server starts.
export async function register() {
  // NEXT_RUNTIME is Next's own (replaced at build time per runtime), not a setting of ours.
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  const { env } = await import("./server/config");
  if (!env().DATABASE_URL) return;
  const { warmServing, flushTelemetryOnExit } = await import("./server/rerank/warm");
  flushTelemetryOnExit();
  await warmServing();
}
