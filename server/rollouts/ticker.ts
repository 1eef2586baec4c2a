import { getDb } from "../db/client";
import { servingState } from "../rerank/state";
import { analyseRollouts } from "./service";
import { env } from "../config";

// The canary analysis runs every ROLLOUT_TICK_MS in each server process. Replicas may judge the
// same step at once: each transition is an update conditional on the rollout row still being at
// that step, so exactly one of them applies it (and only that one moves the alias and audits).

const holder = globalThis as unknown as { __rerankRolloutTicker?: NodeJS.Timeout };

export function startRolloutTicker(log: (line: string) => void = console.log): void {
  if (holder.__rerankRolloutTicker) return;
  holder.__rerankRolloutTicker = setInterval(() => {
    analyseRollouts(getDb())
      .then(async (moves) => {
        const changed = moves.filter((m) => m.decision !== "wait");
        if (changed.length === 0) return;
        await servingState().surfaces.refresh();
        for (const m of changed) log(`[rollout] ${m.surface}: ${m.decision} → ${m.status} at ${m.percent}%`);
      })
      .catch((error: Error) => log(`[rollout] analysis failed: ${error.message.split("\n")[0]}`));
  }, env().ROLLOUT_TICK_MS);
  holder.__rerankRolloutTicker.unref();
}

/** Stops the ticker (shutdown: no analysis against a database pool that is closing). */
export function stopRolloutTicker(): void {
  clearInterval(holder.__rerankRolloutTicker);
  holder.__rerankRolloutTicker = undefined;
}
