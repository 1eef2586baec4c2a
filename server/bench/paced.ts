import http from "node:http";

// An open-loop load generator for latency at a fixed rate: request i is sent at start + i / rate,
// whatever happened to the earlier ones (slow responses do not hold back later requests, so there
// is no coordinated omission), and its latency counts from when it was due (a send the generator's own
// timers delayed counts as latency too, as in bench:text). autocannon's
// `overallRate` sends each second's quota in a burst at the top of the second and then idles,
// which measures queueing at saturation rather than latency at that rate.

export interface PacedResult {
  rate: number;
  sent: number;
  ok: number;
  failed: number;
  p50: number;
  p99: number;
  max: number;
  /** Every answer's latency, ms, ascending (from when its request was due: an open loop's latency, so a late send counts too). */
  latencies: number[];
}

export async function pacedLoad(url: string, options: { method?: string; body?: string; rate: number; durationS: number; maxSockets?: number; headers?: Record<string, string> }): Promise<PacedResult> {
  const target = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 64 });
  const total = Math.max(1, Math.round(options.rate * options.durationS));
  const latencies: number[] = [];
  let ok = 0;
  let failed = 0;
  const body = options.body ? Buffer.from(options.body) : null;
  const one = (due: number) =>
    new Promise<void>((resolve) => {
      const req = http.request(
        { host: target.hostname, port: target.port, path: target.pathname, method: options.method ?? "POST", agent, headers: { ...options.headers, ...(body ? { "content-type": "application/json", "content-length": body.length } : {}) } },
        (res) => {
          res.on("data", () => {});
          res.on("end", () => {
            latencies.push(performance.now() - due);
            if (res.statusCode === 200) ok++;
            else failed++;
            resolve();
          });
        },
      );
      req.on("error", () => {
        failed++;
        resolve();
      });
      req.end(body ?? undefined);
    });

  const start = performance.now() + 50;
  const inflight: Array<Promise<void>> = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / options.rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    inflight.push(one(due));
  }
  await Promise.all(inflight);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return { rate: options.rate, sent: total, ok, failed, p50: at(0.5), p99: at(0.99), max: latencies.at(-1) ?? NaN, latencies };
}
