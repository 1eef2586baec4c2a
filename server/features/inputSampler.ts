import type { FeatureSpec } from "../domain/features/featureSpec";
import { Reservoir } from "../domain/stats/reservoir";

// A uniform sample of the feature rows each model version actually scored on each surface (after
// defaults replaced missing, stale or non-finite values: what the model saw), for drift checks.
// A few random rows per request feed a fixed-size reservoir, so the cost per request is a handful
// of small copies and memory is bounded. Per process: each replica samples its own traffic.

const SIZE = Number(process.env.DRIFT_SAMPLE_ROWS ?? 2000);
const ROWS_PER_REQUEST = 4;

interface Entry {
  names: string[];
  reservoir: Reservoir<Float32Array>;
}

export class InputSampler {
  private readonly entries = new Map<string, Entry>();

  observe(surface: string, versionId: string, spec: FeatureSpec, matrix: { data: Float32Array; rows: number; cols: number }): void {
    if (matrix.rows === 0) return;
    const key = `${surface}|${versionId}`;
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { names: spec.map((f) => f.name), reservoir: new Reservoir<Float32Array>(SIZE) };
      this.entries.set(key, entry);
    }
    for (let t = 0; t < Math.min(ROWS_PER_REQUEST, matrix.rows); t++) {
      const row = Math.floor(Math.random() * matrix.rows);
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
