import { writeFileSync } from "node:fs";
import { DEMO_MODELS, demoFeatureSpec, demoModelBytes } from "../demo/models";

/** npm run models:demo — rewrites the committed demo models and their feature spec. */
for (const which of Object.keys(DEMO_MODELS) as Array<keyof typeof DEMO_MODELS>) {
  const bytes = demoModelBytes(which);
  writeFileSync(DEMO_MODELS[which].file, bytes);
  console.log(`wrote ${DEMO_MODELS[which].file} (${bytes.length} bytes)`);
}
writeFileSync("models/demo/feature-spec.json", `${JSON.stringify(demoFeatureSpec(), null, 2)}\n`);
console.log("wrote models/demo/feature-spec.json");
