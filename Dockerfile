# FHIR R4 gateway: build with dev dependencies, run the compiled dist/ on production dependencies only.
#   docker build -t vn-healthbook-gateway .
#   docker run -p 8080:8080 -v gw-data:/data vn-healthbook-gateway          # embedded PGlite in /data
#   docker run -p 8080:8080 -e DATABASE_URL=postgres://... vn-healthbook-gateway
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS base
# package.json "allowScripts" (dependency install scripts blocked unless listed) needs npm 11;
# the image's bundled npm 10 ignores that field and would run them. Pin the npm the project uses.
ARG NPM_VERSION=11.19.1
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false
RUN npm install -g "npm@${NPM_VERSION}" && npm cache clean --force
WORKDIR /app

# ---- build: all dependencies, TypeScript -> dist/ ----
FROM base AS build
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY gateway ./gateway
# Emits dist/gateway/*.js; at run time the gateway finds profiles/ and mappings/ beside package.json.
RUN npm run build

# ---- runtime: production dependencies + compiled output, non-root ----
FROM base AS runtime
# A container's port is a network port: the gateway authenticates every client (SMART Backend
# Services; register clients with `node dist/gateway/cli.js client add …`). It refuses to listen on
# 0.0.0.0 without authentication; AUTH=none-behind-proxy is the explicit opt-out for a deployment
# whose authenticating proxy is the only way in.
ENV NODE_ENV=production \
    AUTH=smart \
    HOST=0.0.0.0 \
    PORT=8080 \
    GATEWAY_DATA_DIR=/data
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
# /data holds the embedded PGlite database when DATABASE_URL is unset; the image's
# unprivileged "node" user (uid 1000) owns it. Everything else stays root-owned, read-only to it.
RUN mkdir -p /data && chown node:node /data
COPY --from=build /app/dist ./dist
COPY profiles ./profiles
VOLUME ["/data"]
USER node
EXPOSE 8080
# No curl in slim images: probe /readyz (database ping) with Node's fetch.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/readyz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# main.ts handles SIGTERM itself (drains requests, closes the store), so node can be PID 1.
CMD ["node", "dist/gateway/main.js"]
