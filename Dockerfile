# syntax=docker/dockerfile:1
# CostGuard: one binary, one container. Build: docker build --build-arg GIT_SHA=$(git rev-parse HEAD) -t costguard .
# Run:   docker run -p 8080:8080 -v costguard-data:/data costguard

FROM rust:1-bookworm AS chef
RUN cargo install cargo-chef --locked
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
RUN apt-get update && apt-get install -y --no-install-recommends libpq-dev && rm -rf /var/lib/apt/lists/*
COPY --from=planner /src/recipe.json recipe.json
# Dependencies in their own layer: rebuilt only when Cargo.toml/Cargo.lock change.
RUN cargo chef cook --release --locked --recipe-path recipe.json
COPY . .
ARG GIT_SHA=unknown
ENV COSTGUARD_BUILD_SHA=${GIT_SHA}
RUN cargo build --release --locked --bin costguard

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin costguard \
 && mkdir -p /data && chown costguard:costguard /data
COPY --from=builder /src/target/release/costguard /usr/local/bin/costguard
COPY config.toml /etc/costguard/config.toml
ENV COSTGUARD_CONFIG=/etc/costguard/config.toml \
    COSTGUARD_SERVER__BIND=0.0.0.0:8080 \
    COSTGUARD_DATA__DIR=/data
USER costguard
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 CMD curl -fsS http://127.0.0.1:8080/readyz || exit 1
# actix-web finishes in-flight requests on SIGTERM (server.shutdown_timeout_secs).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/costguard"]
CMD ["serve"]
