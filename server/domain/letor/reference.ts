import { parseLetor, type LetorData } from "./parse";

// The LETOR sample committed under models/data/letor/ (LightGBM's examples/lambdarank) and the
// published results on its test set that our trainers are compared with (see the README there).

export const LETOR_SAMPLE = {
  dir: "models/data/letor",
  train: { data: "rank.train", query: "rank.train.query" },
  test: { data: "rank.test", query: "rank.test.query" },
  /** Feature indices in the files run 1…300. */
  numFeatures: 300,
} as const;

export interface PublishedResult {
  ranker: string;
  settings: string;
  ndcg: Record<1 | 3 | 5 | 10, number>;
  mrr?: number;
}

/** Both trained on rank.train with 100 trees / rounds and learning rate 0.1, scored on rank.test. */
export const LETOR_PUBLISHED: { lightgbm: PublishedResult; xgboost: PublishedResult } = {
  lightgbm: {
    ranker: "LightGBM 4.6.0 lambdarank",
    settings: "num_leaves 31, min_data_in_leaf 50, min_sum_hessian_in_leaf 5, bagging 0.9 every iteration, max_bin 255",
    ndcg: { 1: 0.5775, 3: 0.619, 5: 0.6546, 10: 0.7243 },
    mrr: 0.8482,
  },
  xgboost: {
    ranker: "XGBoost 1.7.4 rank:ndcg",
    settings: "max_depth 6",
    ndcg: { 1: 0.6274, 3: 0.6482, 5: 0.678, 10: 0.7536 },
  },
};

/** LightGBM's settings for the published run, in our trainer's terms. */
export const LIGHTGBM_EXAMPLE_PARAMS = {
  numTrees: 100,
  numLeaves: 31,
  learningRate: 0.1,
  minDataInLeaf: 50,
  minSumHessianInLeaf: 5,
  maxBin: 255,
  baggingFraction: 0.9,
  seed: 1,
} as const;

export interface LetorSample {
  train: LetorData;
  test: LetorData;
  /** Paths read, relative to the repository root. */
  files: { train: string[]; test: string[] };
}

/** Parses the sample's train and test sets at one shared width; `read` returns a file's text. */
export function loadLetorSample(read: (path: string) => string): LetorSample {
  const path = (name: string) => `${LETOR_SAMPLE.dir}/${name}`;
  const files = {
    train: [path(LETOR_SAMPLE.train.data), path(LETOR_SAMPLE.train.query)],
    test: [path(LETOR_SAMPLE.test.data), path(LETOR_SAMPLE.test.query)],
  };
  const parse = ([data, query]: string[]) => parseLetor(read(data!), read(query!), { numFeatures: LETOR_SAMPLE.numFeatures, dataName: data, queryName: query });
  return { train: parse(files.train), test: parse(files.test), files };
}
