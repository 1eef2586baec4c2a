import type { Stage2Config } from "../surfaces/stage2.schema";
import { DEMO_CROSS_ENCODER_NAME } from "./crossEncoder";

/** The demo cascade surface: search-ranker (tabular) over every candidate, the demo cross-encoder over its top 20. */
export const DEMO_CASCADE_SURFACE = "product-search";

/** Its stage 2: the cross-encoder reads context.query and each item's catalog text (title, category). */
export const DEMO_CASCADE_STAGE2: Stage2Config = { model: DEMO_CROSS_ENCODER_NAME, alias: "production", rerankCount: 20, budgetMs: 150 };
