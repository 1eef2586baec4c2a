import { env } from "../config";
import { compareExperimentDesigns } from "../domain/simulation/experimentSim";

// npm run bench:interleaving — how many requests an A/B test and a team-draft interleaving
// experiment need to tell the two demo rankers apart (v2 is better), at the same alpha and stopping
// rule, for populations whose users differ more or less in how readily they click (the sd of the
// per-user click-propensity logit). Medians over REPLICATIONS independent runs, for three seeds.

const REPLICATIONS = env().BENCH_REPLICATIONS;
const SEEDS = [1, 2, 3];
const HETEROGENEITY = [0.5, 1, 1.5, 2];

const fmt = (n: number) => (Number.isFinite(n) ? n.toLocaleString("en-US") : "> 200,000");

console.log(`\nRequests to detect v2 > v1 (alpha 0.05, look every 100 requests; median of ${REPLICATIONS} runs)`);
console.log(`  click-propensity sd   seed   A/B requests   interleaving   A/B ÷ interleaving   winners (A/B, IL)`);
for (const sd of HETEROGENEITY) {
  for (const seed of SEEDS) {
    const r = compareExperimentDesigns({ seed, replications: REPLICATIONS, userOptions: { clickBiasSd: sd } });
    const ratio = Number.isFinite(r.ratio) ? `×${r.ratio.toFixed(1)}` : "> ×" + Math.floor(200_000 / r.interleavingRequests);
    console.log(`  ${String(sd).padEnd(20)} ${String(seed).padEnd(6)} ${fmt(r.abRequests).padStart(12)}   ${fmt(r.interleavingRequests).padStart(12)}   ${ratio.padStart(18)}   ${r.abWinner ?? "—"}, ${r.interleavingWinner ?? "—"}`);
  }
}
