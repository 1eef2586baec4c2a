import { clickNdcg, clickReciprocalRank } from "../ranking/clickMetrics";
import { summarizeMean, type MeanSummary } from "../stats";
import { NDCG_K } from "./metrics";
import { creditOf } from "../interleaving/credit";

// Observations the SQL hands over raw, reduced to what the analysis takes.

/** NDCG@10 and MRR summaries over requests with at least one click, from each request's clicked positions. */
export function clickedRequestSummaries(requests: ReadonlyArray<{ positions: readonly number[] }>): { ndcg: MeanSummary; mrr: MeanSummary } {
  const ndcg = requests.map((r) => clickNdcg(r.positions, NDCG_K)).filter((v): v is number => v !== null);
  return { ndcg: summarizeMean(ndcg), mrr: summarizeMean(requests.map((r) => clickReciprocalRank(r.positions))) };
}

/**
 * Wins per ranker in an interleaving experiment: a clicked request is a win for the ranker whose
 * items got more of its clicks, a tie otherwise (team-draft interleaving; Radlinski, Kurup &
 * Joachims 2008).
 */
export function interleavingWins(rows: ReadonlyArray<{ served: ReadonlyArray<{ position: number; reasons: readonly string[] }>; positions: readonly number[] }>, a: string, b: string) {
  let winsA = 0;
  let winsB = 0;
  let ties = 0;
  // Clicks per position, by the ranker credited with the clicked item (shared: both put it there).
  const byPosition = new Map<number, { position: number; a: number; b: number; shared: number }>();
  for (const row of rows) {
    const teamAt = new Map(row.served.map((i) => [i.position, creditOf(i.reasons)]));
    let ca = 0;
    let cb = 0;
    for (const p of new Set(row.positions)) {
      const slot = byPosition.get(p) ?? { position: p, a: 0, b: 0, shared: 0 };
      byPosition.set(p, slot);
      if (teamAt.get(p) === a) {
        ca++;
        slot.a++;
      } else if (teamAt.get(p) === b) {
        cb++;
        slot.b++;
      } else slot.shared++;
    }
    if (ca > cb) winsA++;
    else if (cb > ca) winsB++;
    else ties++;
  }
  return { winsA, winsB, ties, creditByPosition: [...byPosition.values()].sort((x, y) => x.position - y.position) };
}
