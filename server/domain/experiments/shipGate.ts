import type { GuardrailResult, SrmResult } from "./analyse";

// What must stop a ship until someone overrides it with a reason: a failed sample-ratio check
// (the split itself is broken, so no metric can be trusted), and a guardrail of the variant being
// shipped that is violated or has no data (nothing that cannot be computed passes). GrowthBook
// blocks shipping on SRM the same way; inconclusive guardrails warn but do not block. Guardrails
// are judged per treatment: another treatment's violation does not block this one, and shipping
// the control (no change) is blocked by the sample-ratio check only.

/** One reason a ship is blocked: a `key` that stays the same while the figures move ("srm", "violated:ctr/decrease:treat"), and its words. */
export interface ShipBlock {
  key: string;
  text: string;
}

/**
 * The reasons a ship is blocked, empty when nothing blocks it (shipBlockers: their words).
 * @param analysis the experiment's SRM check and guardrails, as `analyseExperiment` returns them.
 * @param variant the variant to ship; without it, every treatment's guardrail checks count.
 */
export function shipBlocks(analysis: { srm: SrmResult; guardrails: readonly GuardrailResult[] }, variant?: string): ShipBlock[] {
  const blocks: ShipBlock[] = [];
  if (analysis.srm.available && analysis.srm.mismatch) {
    blocks.push({ key: "srm", text: `sample-ratio mismatch: the split does not match the weights (χ² = ${analysis.srm.chiSquare.toFixed(1)}, p = ${analysis.srm.pValue.toExponential(1)})` });
  }
  for (const g of analysis.guardrails) {
    for (const c of g.checks) {
      if (variant !== undefined && c.variant !== variant) continue;
      if (c.status === "violated") blocks.push({ key: `violated:${g.metric}/${g.direction}:${c.variant}`, text: `guardrail violated: ${g.label} for ${c.variant}` });
      if (c.status === "no data") blocks.push({ key: `no data:${g.metric}/${g.direction}:${c.variant}`, text: `guardrail not judged, no data: ${g.label} for ${c.variant} (${c.detail})` });
    }
  }
  return blocks;
}

/** The reasons a ship is blocked, in words (shipBlocks). */
export const shipBlockers = (analysis: { srm: SrmResult; guardrails: readonly GuardrailResult[] }, variant?: string): string[] => shipBlocks(analysis, variant).map((b) => b.text);
