// Next.js calls register() once when the server starts.
export async function register() {
  if (process.env.NEXT_RUNTIME !== "nodejs" || !process.env.DATABASE_URL) return;
  const { warmServing, flushTelemetryOnExit } = await import("./server/rerank/warm");
  const { startRolloutTicker } = await import("./server/rollouts/ticker");
  flushTelemetryOnExit();
  await warmServing();
  startRolloutTicker();
}
