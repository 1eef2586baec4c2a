import path from "node:path";

/** The committed demo cross-encoder bundle (models/text/train_cross_encoder.py; card.json beside it). */
export const DEMO_CROSS_ENCODER_DIR = path.resolve(import.meta.dirname, "../../models/text/demo-cross-encoder");
/** The name the demo cross-encoder is served under (`model` in POST /v2/rerank). */
export const DEMO_CROSS_ENCODER_NAME = "demo-cross-encoder";
/** The demo text surface: served by the demo cross-encoder's production alias (`model` in POST /v2/rerank may name it). */
export const DEMO_TEXT_SURFACE = "product-qa";
