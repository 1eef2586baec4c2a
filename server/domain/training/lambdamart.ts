import { createRng, type Rng } from "../random";
import { discountAt, evaluateRanking, gainOf, idealDcgAtK, type RankingMetrics } from "../ranking/metrics";
import { predictRow, type Tree, type TreeEnsemble, type TreeNode } from "../trees/ensemble";

// LambdaMART: gradient-boosted regression trees fitted to LambdaRank gradients of NDCG, grown the
// way LightGBM grows them (histograms over pre-binned features, best-first leaf-wise growth,
// Newton leaf values), so that its offline figures compare with LightGBM's published ones.
//
// Thresholds are float32 values that lie between two consecutive bins' values, so the trained
// trees send every training row the same way on float32 input (the ONNX model, `predictMatrix` on
// a Float32Array) as during training: the scores reported while training are the scores
// `predictMatrix` gives, bit for bit.

/** A query-grouped data set (what `parseLetor` returns). */
export interface RankingDataset {
  rows: number;
  numFeatures: number;
  /** Row-major [rows × numFeatures]. */
  features: Float32Array | Float64Array;
  labels: ArrayLike<number>;
  /** Sizes of consecutive query groups. */
  groups: readonly number[];
}

export interface LambdaMartParams {
  numTrees: number;
  /** Leaves per tree (best-first growth stops there). */
  numLeaves: number;
  /** Shrinkage applied to every leaf value. */
  learningRate: number;
  minDataInLeaf: number;
  minSumHessianInLeaf: number;
  /** Most bins per feature. */
  maxBin: number;
  /** Fewest training rows per bin (LightGBM's min_data_in_bin): rare values share a bin. */
  minDataInBin: number;
  /** Share of features each tree may split on. */
  featureFraction: number;
  /** Share of rows each tree is fitted on (resampled every tree). */
  baggingFraction: number;
  seed: number;
  /** σ of the pairwise logistic in the LambdaRank gradient. */
  sigmoid: number;
  /** Only pairs with a document ranked above this position contribute (LightGBM: 30). */
  truncationLevel: number;
  /** LightGBM's lambdarank_norm: damp pairs far apart in score and rescale each query's lambdas. */
  normalizeLambdas: boolean;
}

// LightGBM's settings for the lambdarank example (the published figures), bagging aside.
export const DEFAULT_LAMBDAMART_PARAMS: LambdaMartParams = {
  numTrees: 100,
  numLeaves: 31,
  learningRate: 0.1,
  minDataInLeaf: 50,
  minSumHessianInLeaf: 5,
  maxBin: 255,
  minDataInBin: 3,
  featureFraction: 1,
  baggingFraction: 1,
  seed: 1,
  sigmoid: 1,
  truncationLevel: 30,
  normalizeLambdas: true,
};

export interface TrainingProgress {
  /** Trees trained so far. */
  trees: number;
  seconds: number;
  /** Metrics of the current scores on the training set (and on `validation`, if given). */
  train: RankingMetrics;
  validation?: RankingMetrics;
  /** The current training-set scores (a live buffer: copy it to keep it). */
  scores: Float64Array;
}

export interface LambdaMartOptions extends Partial<LambdaMartParams> {
  /** Called after each tree with its 0-based index. */
  onProgress?: (treeIndex: number, progress: TrainingProgress) => void;
  /** Scored alongside, for progress reports only (never used to fit). */
  validation?: RankingDataset;
  /** Cut-offs of the NDCG reported to onProgress. */
  evalAt?: readonly number[];
}

export function trainLambdaMart(data: RankingDataset, options: LambdaMartOptions = {}): TreeEnsemble {
  const { onProgress, validation, evalAt, ...overrides } = options;
  const params: LambdaMartParams = { ...DEFAULT_LAMBDAMART_PARAMS, ...stripUndefined(overrides) };
  checkParams(params, data);
  const started = performance.now();
  const rng = createRng(params.seed);
  const binned = binFeatures(data.features, data.rows, data.numFeatures, params.maxBin, params.minDataInBin);
  const objective = new LambdaObjective(data.labels, data.groups, params);
  const learner = new TreeLearner(binned, data.rows, params);

  const scores = new Float64Array(data.rows);
  const gradients = new Float64Array(data.rows);
  const hessians = new Float64Array(data.rows);
  const validationScores = validation ? new Float64Array(validation.rows) : undefined;
  const trees: Tree[] = [];
  const bag = new Int32Array(data.rows);
  for (let t = 0; t < params.numTrees; t++) {
    objective.gradients(scores, gradients, hessians);
    const bagSize = sampleRows(bag, data.rows, params.baggingFraction, rng);
    const features = sampleFeatures(binned.usable, params.featureFraction, rng);
    const grown = learner.grow(gradients, hessians, bag, bagSize, features);
    learner.addToScores(grown, scores);
    trees.push(grown.tree);
    if (validation && validationScores) addTreeScores(grown.tree, validation, validationScores);
    if (onProgress) {
      onProgress(t, {
        trees: t + 1,
        seconds: (performance.now() - started) / 1000,
        train: evaluateRanking(scores, data.labels, data.groups, evalAt),
        validation: validation && validationScores ? evaluateRanking(validationScores, validation.labels, validation.groups, evalAt) : undefined,
        scores,
      });
    }
  }
  return { trees, baseScore: 0, numFeatures: data.numFeatures, comparison: "<=" };
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function checkParams(p: LambdaMartParams, data: RankingDataset): void {
  const positiveInt = (name: keyof LambdaMartParams, min = 1) => {
    const v = p[name] as number;
    if (!Number.isInteger(v) || v < min) throw new RangeError(`${name} must be an integer ≥ ${min}, got ${v}`);
  };
  positiveInt("numTrees", 0);
  positiveInt("numLeaves", 2);
  positiveInt("maxBin", 2);
  positiveInt("minDataInLeaf");
  positiveInt("minDataInBin");
  if (p.maxBin > 65_536) throw new RangeError(`maxBin must be ≤ 65536, got ${p.maxBin}`);
  if (!(p.learningRate > 0)) throw new RangeError(`learningRate must be positive, got ${p.learningRate}`);
  if (!(p.featureFraction > 0 && p.featureFraction <= 1)) throw new RangeError(`featureFraction must be in (0, 1], got ${p.featureFraction}`);
  if (!(p.baggingFraction > 0 && p.baggingFraction <= 1)) throw new RangeError(`baggingFraction must be in (0, 1], got ${p.baggingFraction}`);
  if (data.features.length !== data.rows * data.numFeatures) throw new RangeError(`features hold ${data.features.length} values, expected ${data.rows} × ${data.numFeatures}`);
  if (data.labels.length !== data.rows) throw new RangeError(`${data.labels.length} labels for ${data.rows} rows`);
  const covered = data.groups.reduce((s, g) => s + g, 0);
  if (covered !== data.rows) throw new RangeError(`the query groups cover ${covered} rows, expected ${data.rows}`);
}

// ---------------------------------------------------------------------------------------------
// LambdaRank gradients (LightGBM's formulation): for each pair of documents with different labels
// in a query, the RankNet logistic gradient weighted by the |ΔNDCG| of swapping them. Gradients
// are of a loss to minimise, so a relevant document gets a negative gradient.

/** Per-query LambdaRank gradients and hessians of NDCG for the current scores. */
export class LambdaObjective {
  private readonly starts: Int32Array;
  private readonly inverseMaxDcg: Float64Array;
  private readonly gains: Float64Array;
  private readonly order: Int32Array;
  private readonly discounts: Float64Array;

  constructor(
    private readonly labels: ArrayLike<number>,
    private readonly groups: readonly number[],
    private readonly params: Pick<LambdaMartParams, "sigmoid" | "truncationLevel" | "normalizeLambdas">,
  ) {
    this.starts = new Int32Array(groups.length + 1);
    this.inverseMaxDcg = new Float64Array(groups.length);
    this.gains = new Float64Array(labels.length);
    for (let i = 0; i < labels.length; i++) this.gains[i] = gainOf(labels[i]!);
    let start = 0;
    groups.forEach((size, q) => {
      this.starts[q] = start;
      const ideal = idealDcgAtK(Array.prototype.slice.call(labels, start, start + size) as number[], params.truncationLevel);
      // A query without a relevant document has nothing to learn from: zero gradients.
      this.inverseMaxDcg[q] = ideal > 0 ? 1 / ideal : 0;
      start += size;
    });
    this.starts[groups.length] = start;
    this.order = new Int32Array(labels.length);
    this.discounts = Float64Array.from({ length: groups.reduce((m, g) => Math.max(m, g), 0) }, (_, i) => discountAt(i));
  }

  get queries(): number {
    return this.groups.length;
  }

  /** First row of query `q` (and, for q = queries, the row count). */
  queryStart(q: number): number {
    return this.starts[q]!;
  }

  /** Fills gradients and hessians of every row. */
  gradients(scores: Float64Array, gradients: Float64Array, hessians: Float64Array): void {
    for (let q = 0; q < this.groups.length; q++) this.queryGradients(q, scores, gradients, hessians);
  }

  /** Fills the gradients and hessians of query `q`'s rows (and only those). */
  queryGradients(q: number, scores: Float64Array, gradients: Float64Array, hessians: Float64Array): void {
    const { sigmoid, truncationLevel, normalizeLambdas } = this.params;
    const labels = this.labels;
    const gains = this.gains;
    const discounts = this.discounts;
    const start = this.starts[q]!;
    const end = this.starts[q + 1]!;
    gradients.fill(0, start, end);
    hessians.fill(0, start, end);
    const n = end - start;
    const inverseMaxDcg = this.inverseMaxDcg[q]!;
    if (n < 2 || inverseMaxDcg === 0) return;
    const order = this.order.subarray(start, end);
    for (let i = 0; i < n; i++) order[i] = start + i;
    order.sort((a, b) => scores[b]! - scores[a]! || a - b);
    const best = scores[order[0]!]!;
    const worst = scores[order[n - 1]!]!;
    let sumLambdas = 0;
    for (let i = 0; i < n - 1 && i < truncationLevel; i++) {
      const a = order[i]!;
      for (let j = i + 1; j < n; j++) {
        const b = order[j]!;
        if (labels[a] === labels[b]) continue;
        const aHigher = labels[a]! > labels[b]!;
        const high = aHigher ? a : b;
        const low = aHigher ? b : a;
        const deltaScore = scores[high]! - scores[low]!;
        let deltaNdcg = (gains[high]! - gains[low]!) * Math.abs(discounts[i]! - discounts[j]!) * inverseMaxDcg;
        if (normalizeLambdas && best !== worst) deltaNdcg /= 0.01 + Math.abs(deltaScore);
        const p = 1 / (1 + Math.exp(sigmoid * deltaScore));
        const lambda = -sigmoid * deltaNdcg * p;
        const hessian = sigmoid * sigmoid * deltaNdcg * p * (1 - p);
        gradients[high]! += lambda;
        gradients[low]! -= lambda;
        hessians[high]! += hessian;
        hessians[low]! += hessian;
        sumLambdas -= 2 * lambda;
      }
    }
    // Queries with many mis-ordered pairs would otherwise dominate the fit.
    if (normalizeLambdas && sumLambdas > 0) {
      const factor = Math.log2(1 + sumLambdas) / sumLambdas;
      for (let r = start; r < end; r++) {
        gradients[r]! *= factor;
        hessians[r]! *= factor;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Feature binning: each feature's values are cut into at most maxBin bins once, before training,
// so split search runs over bin histograms instead of sorted values.

interface BinnedFeatures {
  rows: number;
  numFeatures: number;
  /** Row-major bin index of every value. */
  bins: Uint8Array | Uint16Array;
  /** Per feature, the split thresholds: bin b holds values ≤ thresholds[b] (the last bin the rest). */
  thresholds: Float64Array[];
  numBins: Int32Array;
  /** Offset of each feature's bins within a histogram (in bins). */
  offsets: Int32Array;
  totalBins: number;
  /** Features with at least two bins, ascending. */
  usable: Int32Array;
}

function binFeatures(features: Float32Array | Float64Array, rows: number, numFeatures: number, maxBin: number, minDataInBin: number): BinnedFeatures {
  const bins = maxBin <= 256 ? new Uint8Array(rows * numFeatures) : new Uint16Array(rows * numFeatures);
  const thresholds: Float64Array[] = [];
  const numBins = new Int32Array(numFeatures);
  const offsets = new Int32Array(numFeatures);
  const usable: number[] = [];
  const column = new Float64Array(rows);
  let totalBins = 0;
  for (let j = 0; j < numFeatures; j++) {
    for (let r = 0; r < rows; r++) column[r] = Math.fround(features[r * numFeatures + j]!);
    const cuts = binThresholds(column, maxBin, minDataInBin);
    thresholds.push(cuts);
    numBins[j] = cuts.length + 1;
    offsets[j] = totalBins;
    totalBins += cuts.length + 1;
    if (cuts.length > 0) usable.push(j);
    for (let r = 0; r < rows; r++) bins[r * numFeatures + j] = binOf(cuts, Math.fround(features[r * numFeatures + j]!));
  }
  return { rows, numFeatures, bins, thresholds, numBins, offsets, totalBins, usable: Int32Array.from(usable) };
}

/** Greedy cuts: walk the distinct values in order, closing a bin once it holds enough rows. */
function binThresholds(column: Float64Array, maxBin: number, minDataInBin: number): Float64Array {
  const sorted = Float64Array.from(column).sort();
  const distinct: number[] = [];
  const counts: number[] = [];
  for (const v of sorted) {
    if (Number.isNaN(v)) throw new RangeError("features must not be NaN");
    if (distinct.length > 0 && distinct[distinct.length - 1] === v) counts[counts.length - 1]!++;
    else {
      distinct.push(v);
      counts.push(1);
    }
  }
  // With few distinct values each gets a bin (rare ones merged); with many, bins of similar size.
  const perBin = distinct.length <= maxBin ? minDataInBin : Math.max(minDataInBin, sorted.length / maxBin);
  const cuts: number[] = [];
  let inBin = 0;
  for (let i = 0; i < distinct.length - 1 && cuts.length < maxBin - 1; i++) {
    inBin += counts[i]!;
    if (inBin >= perBin) {
      cuts.push(thresholdBetween(distinct[i]!, distinct[i + 1]!));
      inBin = 0;
    }
  }
  return Float64Array.from(cuts);
}

/** A float32 threshold t with low ≤ t < high, halfway where float32 allows (as LightGBM). */
function thresholdBetween(low: number, high: number): number {
  const mid = Math.fround((low + high) / 2);
  return mid >= low && mid < high ? mid : low;
}

function binOf(cuts: Float64Array, value: number): number {
  let lo = 0;
  let hi = cuts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (value <= cuts[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function sampleRows(bag: Int32Array, rows: number, fraction: number, rng: Rng): number {
  let n = 0;
  for (let r = 0; r < rows; r++) if (fraction >= 1 || rng.next() < fraction) bag[n++] = r;
  return n;
}

function sampleFeatures(usable: Int32Array, fraction: number, rng: Rng): Int32Array {
  if (fraction >= 1) return usable;
  const pool = Array.from(usable);
  const take = Math.max(1, Math.round(pool.length * fraction));
  for (let i = 0; i < take; i++) {
    const k = rng.int(i, pool.length - 1);
    [pool[i], pool[k]] = [pool[k]!, pool[i]!];
  }
  return Int32Array.from(pool.slice(0, take)).sort();
}

// ---------------------------------------------------------------------------------------------
// Best-first tree growth over gradient/hessian histograms.

interface GrownTree {
  tree: Tree;
  /** Split bin of each node (internal nodes only), to route training rows by bin. */
  splitBins: Int32Array;
}

const HESSIAN_EPSILON = 1e-15;

class TreeLearner {
  private readonly histograms: Float64Array[];
  private readonly rowOrder: Int32Array;
  private readonly scratch: Int32Array;
  // Per leaf (index < numLeaves):
  private readonly begin: Int32Array;
  private readonly end: Int32Array;
  private readonly sumGradient: Float64Array;
  private readonly sumHessian: Float64Array;
  private readonly nodeOf: Int32Array;
  private readonly bestGain: Float64Array;
  private readonly bestFeature: Int32Array;
  private readonly bestBin: Int32Array;
  private readonly bestLeftGradient: Float64Array;
  private readonly bestLeftHessian: Float64Array;

  constructor(
    private readonly binned: BinnedFeatures,
    rows: number,
    private readonly params: LambdaMartParams,
  ) {
    const leaves = params.numLeaves;
    // Each leaf owns one histogram of (gradient, hessian, count) triples over all bins.
    this.histograms = Array.from({ length: leaves }, () => new Float64Array(binned.totalBins * 3));
    this.rowOrder = new Int32Array(rows);
    this.scratch = new Int32Array(rows);
    this.begin = new Int32Array(leaves);
    this.end = new Int32Array(leaves);
    this.sumGradient = new Float64Array(leaves);
    this.sumHessian = new Float64Array(leaves);
    this.nodeOf = new Int32Array(leaves);
    this.bestGain = new Float64Array(leaves);
    this.bestFeature = new Int32Array(leaves);
    this.bestBin = new Int32Array(leaves);
    this.bestLeftGradient = new Float64Array(leaves);
    this.bestLeftHessian = new Float64Array(leaves);
  }

  grow(gradients: Float64Array, hessians: Float64Array, bag: Int32Array, bagSize: number, features: Int32Array): GrownTree {
    const { numLeaves, learningRate } = this.params;
    const { thresholds } = this.binned;
    this.rowOrder.set(bag.subarray(0, bagSize));
    const nodes: TreeNode[] = [leafNode()];
    const splitBins: number[] = [-1];
    this.begin[0] = 0;
    this.end[0] = bagSize;
    let g = 0;
    let h = 0;
    for (let i = 0; i < bagSize; i++) {
      g += gradients[bag[i]!]!;
      h += hessians[bag[i]!]!;
    }
    this.sumGradient[0] = g;
    this.sumHessian[0] = h;
    this.nodeOf[0] = 0;
    this.buildHistogram(0, gradients, hessians, features);
    this.findBestSplit(0, features);

    let leaves = 1;
    while (leaves < numLeaves) {
      let leaf = -1;
      for (let l = 0; l < leaves; l++) if (this.bestGain[l]! > 0 && (leaf < 0 || this.bestGain[l]! > this.bestGain[leaf]!)) leaf = l;
      if (leaf < 0) break; // no split improves the fit
      const right = leaves++;
      const feature = this.bestFeature[leaf]!;
      const bin = this.bestBin[leaf]!;
      const mid = this.partition(leaf, feature, bin);
      this.begin[right] = mid;
      this.end[right] = this.end[leaf]!;
      this.end[leaf] = mid;
      this.sumGradient[right] = this.sumGradient[leaf]! - this.bestLeftGradient[leaf]!;
      this.sumHessian[right] = this.sumHessian[leaf]! - this.bestLeftHessian[leaf]!;
      this.sumGradient[leaf] = this.bestLeftGradient[leaf]!;
      this.sumHessian[leaf] = this.bestLeftHessian[leaf]!;

      const node = nodes[this.nodeOf[leaf]!]!;
      node.isLeaf = false;
      node.feature = feature;
      node.threshold = thresholds[feature]![bin]!;
      node.left = nodes.length;
      node.right = nodes.length + 1;
      splitBins[this.nodeOf[leaf]!] = bin;
      nodes.push(leafNode(), leafNode());
      splitBins.push(-1, -1);
      this.nodeOf[leaf] = node.left;
      this.nodeOf[right] = node.right;

      // Histogram subtraction: build the smaller child, derive the larger from its parent.
      const parentHistogram = this.histograms[leaf]!;
      const freeHistogram = this.histograms[right]!;
      const [small, large] = mid - this.begin[leaf]! <= this.end[right]! - mid ? [leaf, right] : [right, leaf];
      this.histograms[small] = freeHistogram;
      this.histograms[large] = parentHistogram;
      this.buildHistogram(small, gradients, hessians, features);
      subtractInto(this.histograms[large]!, this.histograms[small]!);
      this.findBestSplit(leaf, features);
      this.findBestSplit(right, features);
    }

    for (let l = 0; l < leaves; l++) {
      nodes[this.nodeOf[l]!]!.value = (-this.sumGradient[l]! / (this.sumHessian[l]! + HESSIAN_EPSILON)) * learningRate;
    }
    return { tree: { nodes }, splitBins: Int32Array.from(splitBins) };
  }

  /** Adds the tree's output to every row's score, routing rows by bin (same path as by value). */
  addToScores(grown: GrownTree, scores: Float64Array): void {
    const { bins, numFeatures } = this.binned;
    const nodes = grown.tree.nodes;
    for (let r = 0; r < scores.length; r++) {
      let k = 0;
      let node = nodes[0]!;
      while (!node.isLeaf) {
        k = bins[r * numFeatures + node.feature]! <= grown.splitBins[k]! ? node.left : node.right;
        node = nodes[k]!;
      }
      scores[r]! += node.value;
    }
  }

  private buildHistogram(leaf: number, gradients: Float64Array, hessians: Float64Array, features: Int32Array): void {
    const hist = this.histograms[leaf]!;
    hist.fill(0);
    const { bins, numFeatures, offsets } = this.binned;
    const order = this.rowOrder;
    const nf = features.length;
    for (let i = this.begin[leaf]!, end = this.end[leaf]!; i < end; i++) {
      const r = order[i]!;
      const g = gradients[r]!;
      const h = hessians[r]!;
      const base = r * numFeatures;
      for (let k = 0; k < nf; k++) {
        const f = features[k]!;
        const o = (offsets[f]! + bins[base + f]!) * 3;
        hist[o]! += g;
        hist[o + 1]! += h;
        hist[o + 2]!++;
      }
    }
  }

  private findBestSplit(leaf: number, features: Int32Array): void {
    const { minDataInLeaf, minSumHessianInLeaf } = this.params;
    const { numBins, offsets } = this.binned;
    const hist = this.histograms[leaf]!;
    const total = this.end[leaf]! - this.begin[leaf]!;
    const G = this.sumGradient[leaf]!;
    const H = this.sumHessian[leaf]!;
    this.bestGain[leaf] = 0;
    if (total < 2 * minDataInLeaf || H < 2 * minSumHessianInLeaf) return;
    const parentGain = (G * G) / (H + HESSIAN_EPSILON);
    let bestGain = 0;
    for (let k = 0; k < features.length; k++) {
      const f = features[k]!;
      const base = offsets[f]! * 3;
      const last = numBins[f]! - 1;
      let gl = 0;
      let hl = 0;
      let cl = 0;
      for (let b = 0; b < last; b++) {
        const o = base + b * 3;
        gl += hist[o]!;
        hl += hist[o + 1]!;
        cl += hist[o + 2]!;
        if (cl < minDataInLeaf || hl < minSumHessianInLeaf) continue;
        const cr = total - cl;
        if (cr < minDataInLeaf) break;
        const hr = H - hl;
        if (hr < minSumHessianInLeaf) break;
        const gr = G - gl;
        const gain = (gl * gl) / (hl + HESSIAN_EPSILON) + (gr * gr) / (hr + HESSIAN_EPSILON) - parentGain;
        if (gain > bestGain) {
          bestGain = gain;
          this.bestFeature[leaf] = f;
          this.bestBin[leaf] = b;
          this.bestLeftGradient[leaf] = gl;
          this.bestLeftHessian[leaf] = hl;
        }
      }
    }
    this.bestGain[leaf] = bestGain;
  }

  /** Stable in-place partition of the leaf's rows: bin ≤ splitBin first. Returns the boundary. */
  private partition(leaf: number, feature: number, splitBin: number): number {
    const { bins, numFeatures } = this.binned;
    const order = this.rowOrder;
    const begin = this.begin[leaf]!;
    const end = this.end[leaf]!;
    let left = begin;
    let right = 0;
    for (let i = begin; i < end; i++) {
      const r = order[i]!;
      if (bins[r * numFeatures + feature]! <= splitBin) order[left++] = r;
      else this.scratch[right++] = r;
    }
    order.set(this.scratch.subarray(0, right), left);
    return left;
  }
}

function leafNode(): TreeNode {
  return { isLeaf: true, feature: 0, threshold: 0, left: -1, right: -1, missingGoesLeft: true, value: 0 };
}

function subtractInto(target: Float64Array, minus: Float64Array): void {
  for (let i = 0; i < target.length; i++) target[i]! -= minus[i]!;
}

/** Adds one tree's output to held-out scores (by raw value, as serving does). */
function addTreeScores(tree: Tree, data: RankingDataset, scores: Float64Array): void {
  const f = data.numFeatures;
  const single: TreeEnsemble = { trees: [tree], baseScore: 0, numFeatures: f, comparison: "<=" };
  for (let r = 0; r < data.rows; r++) scores[r]! += predictRow(single, data.features.subarray(r * f, (r + 1) * f));
}
