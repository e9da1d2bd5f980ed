# Parley in a container: the dashboard is built with Node, the binary with Rust, and the
# runtime image holds only the binary, CA certificates and a non-root user.
#   scripts/container-build            (docker or podman, whichever is installed)
#   docker compose up                  (Parley with PostgreSQL: compose.yaml)

FROM node:20-bookworm-slim AS dashboard
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

FROM rust:1.95-bookworm AS binary
WORKDIR /src
COPY . .
COPY --from=dashboard /src/web/dist web/dist
RUN cargo build --release --locked -p parley \
    && install -D -m 0755 target/release/parley /out/parley

FROM debian:bookworm-slim
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/parley --create-home parley
COPY --from=binary /out/parley /usr/local/bin/parley
USER parley
WORKDIR /var/lib/parley
# Metrics on their own port, for a Prometheus on the container network; publish it
# only there, never to the internet.
ENV PARLEY_LISTEN=0.0.0.0:8080 \
    PARLEY_METRICS__LISTEN=0.0.0.0:9464 \
    PARLEY_DATA_DIR=/var/lib/parley \
    PARLEY_LOG__FORMAT=json
VOLUME ["/var/lib/parley"]
EXPOSE 8080 9464
HEALTHCHECK --interval=15s --timeout=6s --start-period=30s --retries=3 \
    CMD ["parley", "healthcheck"]
ENTRYPOINT ["parley"]
CMD ["serve"]
