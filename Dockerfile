# syntax=docker/dockerfile:1
# Rerank Console: one image for the server (the front door + Next.js on one port) and for the
# migration command. Build: docker build -t rerank-console .
# Run the migrations first (their own command, e.g. a Helm pre-install/upgrade Job or the compose
# "migrate" service), then any number of replicas:
#   docker run --rm -e DATABASE_URL=… rerank-console npm run db:migrate
#   docker run -e DATABASE_URL=… -e AUTH_SECRET=… -e ALLOWED_HOSTS=… -p 3000:3000 rerank-console
# Every variable is one of server/config.ts (README, Configuration); a bad value stops the process
# with one line naming it.

ARG NODE_IMAGE=node:20.20-bookworm-slim

# Install scripts: the image's npm (10, in node:20 images) ignores package.json's allowScripts, so
# every `npm ci` here runs with --ignore-scripts: onnxruntime-node's script would download CUDA files
# and @prisma/engines its engines (neither is needed: onnxruntime-node ships its CPU binaries, the
# Prisma client's query compiler is WebAssembly). The Prisma client is generated explicitly, with
# PRISMA_SCHEMA_ENGINE_BINARY naming any file so that `prisma generate` downloads nothing (as the
# package's postinstall does). The build needs the npm registry only.

# ---- dependencies: every package, for the build ------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV NEXT_TELEMETRY_DISABLED=1 ORT_DISABLE_TELEMETRY=1
COPY package.json package-lock.json ./
COPY prisma ./prisma
COPY prisma.config.ts ./
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && PRISMA_SCHEMA_ENGINE_BINARY=/bin/false npx prisma generate

# ---- build: next build ---------------------------------------------------------------------------
FROM deps AS build
COPY . .
RUN npm run build

# ---- production dependencies only ----------------------------------------------------------------
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY prisma ./prisma
COPY prisma.config.ts ./
# No install scripts (see the top); the Prisma client comes from the build stage (the prisma CLI is a
# development dependency).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# ---- runtime: non-root, production dependencies, the build and the sources tsx runs -------------
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    NEXT_TELEMETRY_DISABLED=1 \
    ORT_DISABLE_TELEMETRY=1 \
    TELEMETRY_SPILL_DIR=/app/.data/spill \
    WORKERS=1
# WORKERS=1: one server process per container (each process holds its models, ~470 MB RSS, and its
# own database connections); scale with replicas, not workers (README, "Containers").
COPY --from=prod-deps --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/server/db/generated ./server/db/generated
COPY --from=build --chown=node:node /app/.next ./.next
COPY --chown=node:node package.json package-lock.json next.config.ts tsconfig.json instrumentation.ts prisma.config.ts ./
COPY --chown=node:node app ./app
COPY --chown=node:node server ./server
COPY --chown=node:node prisma ./prisma
COPY --chown=node:node models ./models
# The spill directory (rows waiting out a database outage) must be writable; mount a volume there
# to keep them across restarts.
RUN mkdir -p /app/.data/spill && chown -R node:node /app/.data
USER node
EXPOSE 3000
# Liveness of the process and its database: /api/health answers 503 when PostgreSQL does not.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/api/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# The server process of npm start, without its database and build steps (those are the image's
# build and the migration command).
CMD ["node", "--import", "tsx", "server/http/main.ts"]
