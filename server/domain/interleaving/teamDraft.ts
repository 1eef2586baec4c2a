import { createRng } from "../random";
import { seedOfKey } from "../hashing";

// Team-draft interleaving (Radlinski, Kurup & Joachims, CIKM 2008): the two rankers take turns
// picking their best item not yet shown — the team with fewer picks goes next, a coin decides ties —
// and each shown item is credited to the team that picked it. Clicks then say which ranker won the
// request. The coin is seeded by the request id, so a request's interleaving can be replayed.
//
// One refinement (Chapelle, Joachims, Radlinski & Yue, "Large-scale validation and analysis of
// interleaved search evaluation", TOIS 2012, §3.2): where both rankings start with the same items in
// the same order, those items are shown first and credited to neither team. Either ranker alone
// would have shown them in exactly those positions, so a click on one says nothing about which is
// better; crediting it by the coin only adds noise. Rankers that are compared usually agree on
// their first results, so this removes much of the variance of the per-request verdict without
// biasing it (the items after the shared prefix are drafted as usual).

export type Team = "A" | "B" | "shared";

export interface Interleaved {
  ids: string[];
  teams: Team[];
  /** True when the two rankings' top-k differ, so a click can tell them apart. */
  competitive: boolean;
  /** How many leading items both rankings put in the same positions (team "shared", credited to neither). */
  sharedPrefix: number;
}


export function teamDraftInterleave(rankingA: readonly string[], rankingB: readonly string[], k: number, requestKey: string): Interleaved {
  // FNV alone leaves sequential ids ("req-1", "req-2") with correlated low bits, which made the
  // first pick favour one team for long streaks; the mixed seed does not.
  const rng = createRng(seedOfKey(requestKey));
  const shown = new Set<string>();
  const ids: string[] = [];
  const teams: Team[] = [];
  let picksA = 0;
  let picksB = 0;
  let shared = 0;
  while (shared < k && shared < rankingA.length && shared < rankingB.length && rankingA[shared] === rankingB[shared] && !shown.has(rankingA[shared]!)) {
    shown.add(rankingA[shared]!);
    ids.push(rankingA[shared]!);
    teams.push("shared");
    shared++;
  }
  let ia = shared;
  let ib = shared;
  const nextOf = (ranking: readonly string[], from: number) => {
    let i = from;
    while (i < ranking.length && shown.has(ranking[i]!)) i++;
    return i;
  };
  while (ids.length < k) {
    ia = nextOf(rankingA, ia);
    ib = nextOf(rankingB, ib);
    const aLeft = ia < rankingA.length;
    const bLeft = ib < rankingB.length;
    if (!aLeft && !bLeft) break;
    const aTurn = !bLeft || (aLeft && (picksA < picksB || (picksA === picksB && rng.next() < 0.5)));
    const id = aTurn ? rankingA[ia]! : rankingB[ib]!;
    shown.add(id);
    ids.push(id);
    teams.push(aTurn ? "A" : "B");
    if (aTurn) picksA++;
    else picksB++;
  }
  const topA = rankingA.slice(0, k);
  const topB = new Set(rankingB.slice(0, k));
  const competitive = topA.length !== topB.size || topA.some((id) => !topB.has(id)) || topA.some((id, i) => rankingB[i] !== id);
  return { ids, teams, competitive, sharedPrefix: shared };
}

export type RequestOutcome = "A" | "B" | "tie" | "no_clicks";

/** Which ranker won one request: the team whose items drew more clicks (shared items count for neither). */
export function interleavingWinner(teams: readonly Team[], clickedPositions: readonly number[]): RequestOutcome {
  if (clickedPositions.length === 0) return "no_clicks";
  let a = 0;
  let b = 0;
  for (const position of new Set(clickedPositions)) {
    const team = teams[position - 1];
    if (team === "A") a++;
    else if (team === "B") b++;
  }
  return a > b ? "A" : b > a ? "B" : "tie";
}
