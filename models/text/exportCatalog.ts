// Writes the demo catalog's text fields to JSON for train_cross_encoder.py (the catalog is generated in
// TypeScript from a fixed seed, so the Python trainer reads this export instead of re-implementing it).
// Usage: npx tsx models/text/exportCatalog.ts > /tmp/catalog.json
import { DEMO_CATEGORIES, demoCatalog } from "../../server/demo/catalog";

const items = demoCatalog().map((item) => ({
  id: item.id,
  title: item.title,
  category: item.category,
  brand: item.brand,
  popularity: item.features.popularity,
  quality: item.quality,
}));
process.stdout.write(JSON.stringify({ categories: DEMO_CATEGORIES, items }));
