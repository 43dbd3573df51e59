# syntax=docker/dockerfile:1
# coord serve in a container: the fleet over JSON-RPC, HTTP and WebSocket on port 7077, with the
# embedded store in the volume /data, as an unprivileged user. How to build and run it: the
# README's "Container" section. `docker run IMAGE ps` (or any other command) runs coord itself.

FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY . .
# The target is named (.cargo/config.toml names x86_64's) so that the image builds on any
# architecture; the caches keep the registry and the build between builds.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    triple=$(rustc -vV | sed -n 's/^host: //p') \
    && cargo build --release --locked -p coord --bin coord --bin coord-serve --target "$triple" \
    && mkdir /out \
    && cp "target/$triple/release/coord" "target/$triple/release/coord-serve" /out/

FROM debian:bookworm-slim
# ca-certificates: for a rediss:// store.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 coord \
    && useradd --uid 10001 --gid coord --create-home coord \
    && install -d -o coord -g coord /data
COPY --from=build /out/coord /out/coord-serve /usr/local/bin/
USER 10001:10001
ENV COORD_URL=sqlite:///data/coord.db
VOLUME /data
EXPOSE 7077
# Any address but loopback needs a token: run with -e COORD_TOKEN=….
ENTRYPOINT ["coord"]
CMD ["serve", "--listen", "0.0.0.0:7077"]
