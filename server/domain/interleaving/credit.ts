import type { Interleaved } from "./teamDraft";

// How an interleaved response says which ranker contributed each item, written and read here only.
// Each served item carries one credit in its reasons, appended after its own (constraint) reasons:
//   "interleaving:<variant key>"  the item was picked by that variant's ranker;
//   "interleaving-shared"         both rankings put it in the same leading position (credited to neither);
// and the first item also carries "interleaving:competitive" when the two rankings' top k differ.
// The credit always comes before the competitive flag, so a variant named "competitive" still reads right.

const CREDIT_PREFIX = "interleaving:";
/** What every interleaving reason (credit, shared, flag) starts with. */
export const INTERLEAVING_REASON_PREFIX = "interleaving";
export const SHARED_CREDIT = "interleaving-shared";
export const COMPETITIVE_FLAG = "interleaving:competitive";

/**
 * The reasons to append to each interleaved item, index-aligned with `merged.ids`.
 * @param variantKeys the keys of the variants whose rankings were A and B.
 */
export function creditReasons(merged: Pick<Interleaved, "teams" | "competitive">, variantKeys: readonly [string, string]): string[][] {
  return merged.teams.map((team, i) => {
    const credit = team === "shared" ? SHARED_CREDIT : `${CREDIT_PREFIX}${team === "A" ? variantKeys[0] : variantKeys[1]}`;
    return i === 0 && merged.competitive ? [credit, COMPETITIVE_FLAG] : [credit];
  });
}

/** The variant an interleaved item was credited to, from its reasons; undefined when shared or not interleaved. */
export function creditOf(reasons: readonly string[] | undefined): string | undefined {
  if (!reasons || reasons.includes(SHARED_CREDIT)) return undefined;
  const credit = reasons.find((r) => r.startsWith(CREDIT_PREFIX));
  return credit?.slice(CREDIT_PREFIX.length);
}

/**
 * Whether an interleaved list's two rankings differed, from its first item's reasons: the flag is
 * that item's last reason, right after its credit (so a credit to a variant named "competitive" is
 * not mistaken for it).
 */
export function isCompetitive(firstItemReasons: readonly string[] | undefined): boolean {
  const n = firstItemReasons?.length ?? 0;
  return n >= 2 && firstItemReasons![n - 1] === COMPETITIVE_FLAG && firstItemReasons![n - 2]!.startsWith(INTERLEAVING_REASON_PREFIX);
}
