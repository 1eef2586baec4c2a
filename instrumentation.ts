// Next.js calls register() once when the server starts.
export async function register() {
  // NEXT_RUNTIME is Next's own (replaced at build time per runtime), not a setting of ours.
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  // On the pages thread (`npm start`, server/http/pagesThread.ts) the serving thread owns the serving
  // state and warms it: a second copy here would open every model again for nothing.
  const { pagesBridge } = await import("./server/http/pagesBridge");
  if (pagesBridge()) return;
  const { env } = await import("./server/config");
  if (!env().DATABASE_URL) return;
  // Shutdown (drain, then flush telemetry, then exit) belongs to the server process: server/http/shutdown.ts.
  const { warmServing } = await import("./server/rerank/warm");
  await warmServing();
}
