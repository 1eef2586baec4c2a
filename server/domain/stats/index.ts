// Experiment statistics: a pure module (no framework, no database, no I/O; stdlib's special
// functions for the distributions) working on sufficient statistics per variant, so the same code serves rows
// summarised in memory and sums from SQL.
//
// - summaries: summarizeMean / summarizeProportion / summarizeRatio / summarizeWithCovariate, merge*;
// - treatment vs control: compareMeans (Welch), compareRatios (delta method), compareWithCuped;
//   each returns an EffectResult, sequential (always valid) by default, { analysis: "fixedHorizon" }
//   for the classical one-look test;
// - chanceToBeatControl (Bayesian), srmCheck, holmAdjust / benjaminiHochbergAdjust,
//   planSampleSize / powerAt, signTest / sequentialSignTest (interleaving).
export * from "./summary";
export type { ArmEstimate } from "./welch";
export { welchDegreesOfFreedom } from "./welch";
export { ratioOfMeans, relativeLift } from "./delta";
export * from "./compare";
export * from "./cuped";
export { alwaysValidPValue, confidenceSequenceHalfWidth, logMixtureLikelihoodRatio, mixtureTuningRatio, mixtureVariance } from "./sequential";
export * from "./bayes";
export * from "./srm";
export * from "./multiple";
export * from "./power";
export * from "./signTest";
