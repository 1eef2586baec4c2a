import type { GuardrailResult, SrmResult } from "./analyse";

// What must stop a ship until someone overrides it with a reason: a failed sample-ratio check
// (the split itself is broken, so no metric can be trusted) and violated guardrails. GrowthBook
// blocks shipping on SRM the same way; inconclusive guardrails warn but do not block.

/**
 * The reasons a ship is blocked, in words, empty when nothing blocks it.
 * @param analysis the experiment's SRM check and guardrails, as `analyseExperiment` returns them.
 */
export function shipBlockers(analysis: { srm: SrmResult; guardrails: readonly GuardrailResult[] }): string[] {
  const blockers: string[] = [];
  if (analysis.srm.available && analysis.srm.mismatch) {
    blockers.push(`sample-ratio mismatch: the split does not match the weights (χ² = ${analysis.srm.chiSquare.toFixed(1)}, p = ${analysis.srm.pValue.toExponential(1)})`);
  }
  for (const g of analysis.guardrails) if (g.status === "violated") blockers.push(`guardrail violated: ${g.label}`);
  return blockers;
}
