import type { GuardrailResult, SrmResult } from "./analyse";

// What must stop a ship until someone overrides it with a reason: a failed sample-ratio check
// (the split itself is broken, so no metric can be trusted), and a guardrail of the variant being
// shipped that is violated or has no data (nothing that cannot be computed passes). GrowthBook
// blocks shipping on SRM the same way; inconclusive guardrails warn but do not block. Guardrails
// are judged per treatment: another treatment's violation does not block this one, and shipping
// the control (no change) is blocked by the sample-ratio check only.

/**
 * The reasons a ship is blocked, in words, empty when nothing blocks it.
 * @param analysis the experiment's SRM check and guardrails, as `analyseExperiment` returns them.
 * @param variant the variant to ship; without it, every treatment's guardrail checks count.
 */
export function shipBlockers(analysis: { srm: SrmResult; guardrails: readonly GuardrailResult[] }, variant?: string): string[] {
  const blockers: string[] = [];
  if (analysis.srm.available && analysis.srm.mismatch) {
    blockers.push(`sample-ratio mismatch: the split does not match the weights (χ² = ${analysis.srm.chiSquare.toFixed(1)}, p = ${analysis.srm.pValue.toExponential(1)})`);
  }
  for (const g of analysis.guardrails) {
    for (const c of g.checks) {
      if (variant !== undefined && c.variant !== variant) continue;
      if (c.status === "violated") blockers.push(`guardrail violated: ${g.label} for ${c.variant}`);
      if (c.status === "no data") blockers.push(`guardrail not judged, no data: ${g.label} for ${c.variant} (${c.detail})`);
    }
  }
  return blockers;
}
