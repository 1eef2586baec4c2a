import { createRng } from "../domain/random";

// The demo catalog: a few thousand products with categories, prices, provider groups, safety flags
// and item features, generated from a fixed seed so every install shows the same data.

export const DEMO_CATEGORIES = ["electronics", "books", "home", "toys", "sports", "beauty", "grocery", "fashion", "garden", "automotive"] as const;
export const DEMO_PROVIDER_GROUPS = ["first-party", "marketplace-large", "marketplace-small"] as const;
export const DEMO_BLOCKED_FLAGS = ["recalled", "adult"] as const;

const ADJECTIVES = ["Classic", "Compact", "Deluxe", "Eco", "Ultra", "Smart", "Pro", "Mini", "Vintage", "Rugged", "Soft", "Bright"];
const NOUNS: Record<(typeof DEMO_CATEGORIES)[number], string[]> = {
  electronics: ["Headphones", "Speaker", "Charger", "Monitor", "Keyboard", "Camera"],
  books: ["Novel", "Cookbook", "Atlas", "Biography", "Field Guide", "Anthology"],
  home: ["Lamp", "Blanket", "Kettle", "Vase", "Rug", "Shelf"],
  toys: ["Puzzle", "Robot Kit", "Board Game", "Plush Bear", "Kite", "Train Set"],
  sports: ["Yoga Mat", "Football", "Tennis Racket", "Water Bottle", "Bike Helmet", "Dumbbell"],
  beauty: ["Face Cream", "Shampoo", "Perfume", "Lip Balm", "Hair Dryer", "Nail Kit"],
  grocery: ["Coffee Beans", "Olive Oil", "Tea Sampler", "Granola", "Honey", "Pasta"],
  fashion: ["Sneakers", "Scarf", "Backpack", "Sunglasses", "Jacket", "Watch"],
  garden: ["Planter", "Hose", "Seed Pack", "Pruner", "Bird Feeder", "Trowel"],
  automotive: ["Dash Cam", "Floor Mats", "Tire Gauge", "Car Vacuum", "Jump Starter", "Wax"],
};

/** The features every demo item carries, in the order demo models consume them. */
export const DEMO_ITEM_FEATURES = ["popularity", "ctr_7d", "rating", "price_log", "freshness_days", "margin"] as const;

export interface DemoItem {
  id: string;
  title: string;
  category: string;
  brand: string;
  price: number;
  providerGroup: string;
  safetyFlags: string[];
  features: Record<(typeof DEMO_ITEM_FEATURES)[number], number>;
  /** Hidden true relevance in [0, 1] that the traffic simulator's users respond to. */
  quality: number;
}

export function demoCatalog(size = 3000, seed = 20261125): DemoItem[] {
  const rng = createRng(seed);
  const items: DemoItem[] = [];
  for (let i = 0; i < size; i++) {
    const category = rng.pick(DEMO_CATEGORIES);
    const quality = Math.min(1, Math.max(0, 0.5 + 0.2 * rng.normal()));
    const price = Math.round(Math.exp(2.5 + 1.1 * rng.normal()) * 100) / 100 + 1;
    const roll = rng.next();
    const safetyFlags = roll < 0.01 ? ["recalled"] : roll < 0.02 ? ["adult"] : [];
    items.push({
      id: `sku-${String(i + 1).padStart(5, "0")}`,
      title: `${rng.pick(ADJECTIVES)} ${rng.pick(NOUNS[category])}`,
      category,
      brand: `Brand ${String.fromCharCode(65 + rng.int(0, 19))}`,
      price,
      providerGroup: rng.next() < 0.5 ? "first-party" : rng.next() < 0.6 ? "marketplace-large" : "marketplace-small",
      safetyFlags,
      quality,
      features: {
        // Observable features correlate with the hidden quality, with noise, as real signals do.
        popularity: Math.max(0, quality * 0.7 + 0.3 * rng.next()),
        ctr_7d: Math.max(0, 0.02 + 0.08 * quality + 0.02 * rng.normal()),
        rating: Math.min(5, Math.max(1, 2.5 + 2.5 * quality + 0.6 * rng.normal())),
        price_log: Math.log(price),
        freshness_days: rng.int(0, 365),
        margin: 0.05 + 0.3 * rng.next(),
      },
    });
  }
  return items;
}
