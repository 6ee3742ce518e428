# nsq-rs: nsqd, nsqlookupd, nsqadmin and the NSQ utilities in one image.
#
#   docker build -t nsq-rs .
#   docker run -d -p 4150:4150 -p 4151:4151 -v nsqd-data:/data nsq-rs \
#       nsqd --broadcast-address=HOST --lookupd-tcp-address=LOOKUPD:4160
#   docker run -d -p 4160:4160 -p 4161:4161 nsq-rs nsqlookupd
#   docker run -d -p 4171:4171 nsq-rs nsqadmin --lookupd-http-address=LOOKUPD:4161
#
# The command is the binary and its flags (NSQ's); without one it runs nsqd
# with its data in /data. docker-compose.yml starts a whole cluster.

ARG RUST_VERSION=1
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS build
# The binaries the image ships (bins/Cargo.toml names them).
ARG BINS="nsqd nsqlookupd nsqadmin nsq_tail nsq_stat nsq_to_file nsq_to_http nsq_to_nsq to_nsq"
# No line tables: a third of the size (symbols stay, so a panic still names its functions).
ENV CARGO_PROFILE_RELEASE_DEBUG=false \
    CARGO_TERM_COLOR=never
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /src

# 1. The dependencies alone, from the manifests and the lock file: this
#    layer is rebuilt only when they change. Every workspace crate is a stub.
COPY Cargo.toml Cargo.lock ./
COPY core/Cargo.toml core/
COPY runtime-tokio/Cargo.toml runtime-tokio/
COPY runtime-sim/Cargo.toml runtime-sim/
COPY sim-tests/Cargo.toml sim-tests/
COPY bins/Cargo.toml bins/
RUN set -eu; \
    for crate in core runtime-tokio runtime-sim sim-tests bins; do \
        mkdir -p "$crate/src"; touch "$crate/src/lib.rs"; \
        sed -n 's/^path = "\(.*\)"$/\1/p' "$crate/Cargo.toml" | while read -r p; do \
            mkdir -p "$crate/$(dirname "$p")"; \
            case "$p" in */lib.rs) touch "$crate/$p" ;; *) echo 'fn main() {}' > "$crate/$p" ;; esac; \
        done; \
    done; \
    set --; for b in $BINS; do set -- "$@" --bin "$b"; done; \
    cargo build --release --locked -p nsq-bins "$@"

# 2. The project itself. Its sources are touched so that cargo rebuilds
#    over the stubs whatever their timestamps.
COPY core core
COPY runtime-tokio runtime-tokio
COPY runtime-sim runtime-sim
COPY sim-tests sim-tests
COPY bins bins
RUN set -eu; \
    find core runtime-tokio runtime-sim sim-tests bins -name '*.rs' -exec touch {} +; \
    set --; for b in $BINS; do set -- "$@" --bin "$b"; done; \
    cargo build --release --locked -p nsq-bins "$@"; \
    mkdir /out; \
    for b in $BINS; do cp "target/release/$b" /out/; done

FROM debian:${DEBIAN_RELEASE}-slim
# A fixed, unprivileged user: files in /data stay readable across images.
RUN groupadd --system --gid 10001 nsq \
    && useradd --system --uid 10001 --gid nsq --home-dir /data --no-create-home --shell /usr/sbin/nologin nsq \
    && mkdir /data \
    && chown nsq:nsq /data
COPY --from=build /out/ /usr/local/bin/
# numeric, so that Kubernetes' runAsNonRoot can check it
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
# nsqd TCP and HTTP, nsqlookupd TCP and HTTP, nsqadmin HTTP
EXPOSE 4150 4151 4160 4161 4171
# Every daemon handles SIGTERM itself (nsqd writes its queues to /data first),
# so it runs as PID 1 without an init.
STOPSIGNAL SIGTERM
CMD ["nsqd", "--data-path=/data"]
