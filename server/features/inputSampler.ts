import type { FeatureSpec } from "../domain/features/featureSpec";
import { Reservoir } from "../domain/stats/reservoir";
import { env } from "../config";

// A uniform sample of the feature rows each model version actually scored on each surface (after
// defaults replaced missing, stale or non-finite values: what the model saw), for drift checks.
// About 4 % of the rows feed a fixed-size reservoir, so the cost per request is a handful of small
// copies and memory is bounded. Per process: each replica samples its own traffic.

interface Entry {
  names: string[];
  reservoir: Reservoir<Float32Array>;
}

export class InputSampler {
  private readonly entries = new Map<string, Entry>();

  /** `rowRate`: the chance that a scored row is offered to the reservoir (DRIFT_ROW_RATE, default 0.04). */
  constructor(private readonly rowRate = env().DRIFT_ROW_RATE) {}

  /** Rows to pass over before the next sampled one: geometric with success probability rowRate. */
  private skip(): number {
    return this.rowRate >= 1 ? 0 : Math.floor(Math.log(1 - Math.random()) / Math.log(1 - this.rowRate));
  }

  observe(surface: string, versionId: string, spec: FeatureSpec, matrix: { data: Float32Array; rows: number; cols: number }): void {
    if (matrix.rows === 0) return;
    const key = `${surface}|${versionId}`;
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { names: spec.map((f) => f.name), reservoir: new Reservoir<Float32Array>(env().DRIFT_SAMPLE_ROWS) };
      this.entries.set(key, entry);
    }
    // Each row independently with probability rowRate (skipping ahead geometrically), so every row
    // scored has the same chance whatever the size of its request.
    if (!(this.rowRate > 0)) return;
    for (let row = this.skip(); row < matrix.rows; row += 1 + this.skip()) {
      entry.reservoir.offer(matrix.data.slice(row * matrix.cols, (row + 1) * matrix.cols));
    }
  }

  /** The sampled values of each feature for a surface and model version, and how many rows were offered. */
  sample(surface: string, versionId: string): { offered: number; columns: Map<string, number[]> } | null {
    const entry = this.entries.get(`${surface}|${versionId}`);
    if (!entry) return null;
    const rows = entry.reservoir.values();
    return { offered: entry.reservoir.offered, columns: new Map(entry.names.map((name, c) => [name, rows.map((r) => r[c]!)])) };
  }
}

const holder = globalThis as unknown as { __rerankInputSampler?: InputSampler };

/** The process's sample of scored feature rows (serving observes, feature health reads). */
export function inputSampler(): InputSampler {
  return (holder.__rerankInputSampler ??= new InputSampler());
}
