# The image-promoter worker and CLI. Build: docker build -t image-promoter .
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src src
COPY workflows workflows
COPY activities activities
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY --from=build /app/package.json package.json
# The example hooks run from source with tsx (a runtime dependency) and read images through src/oci.
COPY src src
COPY examples examples
USER node
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["worker"]
