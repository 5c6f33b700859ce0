#!/usr/bin/env bash
# make bench-profile: where the CPU of a cold start goes under Lambda's CPU share.
#
# Builds the functions with the release settings but their symbols kept (`--profile profiling`,
# target/profiling/), runs the bench's power-tuning phase at one memory size (PROFILE_MEMORY,
# 256; the full-core row runs too) under `perf record` (cpu-clock samples of the bench and every
# process it starts: the functions run capped in their cgroups), then prints, per function, the
# symbols with the most samples (self time), summed over every cold start of that function.
# The samples of a function are those of its processes, from the wrapper's exec on
# ("[wrapper and exec]" marks what ran before the bootstrap's own code).
#
# Needs perf (Debian: apt-get install linux-perf, done here if missing) and writable cgroups,
# like the capped part of `make bench`. Writes nothing in the repository: the bench runs with
# BENCH_WRITE=0 and the samples go to .local/profile/. PROFILE_FUNCTIONS_DIR profiles other
# builds (e.g. an older commit's, kept aside) instead of building.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[profile]\033[0m %s\n' "$*" >&2; }

if ! command -v perf >/dev/null 2>&1; then
  say "installing perf (apt-get install linux-perf)"
  apt-get install -y -q linux-perf >/dev/null
fi

memory=${PROFILE_MEMORY:-256}
starts=${PROFILE_COLD_STARTS:-20}
top=${PROFILE_TOP:-25}
out=.local/profile
rm -rf "$out" && mkdir -p "$out"

dir=${PROFILE_FUNCTIONS_DIR:-}
if [ -z "$dir" ]; then
  say "building the functions with symbols (cargo build --profile profiling)"
  cargo build --locked -q --profile profiling \
    --config 'profile.profiling.inherits="release"' --config 'profile.profiling.strip="none"' \
    -p inventory -p billing-api -p billing-consumer
  dir=$PWD/target/profiling
fi
cargo build --locked -q --release -p bench

say "$starts cold starts per function at $memory MB and on the full core, under perf record"
set -a; source .local/env; set +a
BENCH_ONLY=power BENCH_WRITE=0 BENCH_POWER_MEMORY="$memory" BENCH_POWER_COLD_STARTS="$starts" \
  BENCH_POWER_WARM=1 BENCH_FUNCTIONS_DIR="$dir" BENCH_REQUESTS=50 BENCH_REPEAT=1 \
  timeout 600 perf record -q -e cpu-clock -F 20000 -o "$out/perf.data" -- \
  target/release/bench > "$out/bench.txt" 2>&1
perf script -i "$out/perf.data" -F comm,pid,ip,sym,dso 2>/dev/null > "$out/samples.txt"

python3 - "$out/samples.txt" "$top" <<'EOF'
import collections, re, sys

path, top = sys.argv[1], int(sys.argv[2])
# comm is the executable's name cut to 15 characters
functions = {"inventory": "inventory", "billing-api": "billing-api", "billing-consume": "billing-consumer"}
line = re.compile(r"^\s*(.+?)\s+(\d+)\s+([0-9a-f]+)\s+(.*?)\s+\((.*)\)\s*$")
samples, owner = [], {}
for text in open(path, errors="replace"):
    m = line.match(text)
    if not m:
        continue
    comm, pid, _ip, sym, dso = m.groups()
    samples.append((comm, pid, sym, dso.rsplit("/", 1)[-1]))
    if comm in functions:
        owner[pid] = functions[comm]
by_symbol = collections.defaultdict(collections.Counter)
by_object = collections.defaultdict(collections.Counter)
starts = collections.defaultdict(set)
for comm, pid, sym, dso in samples:
    f = owner.get(pid)
    if f is None:
        continue
    starts[f].add(pid)
    sym = re.sub(r"::h[0-9a-f]{16}$", "", sym)
    if sym == "[unknown]":
        sym = f"[unknown in {dso}]"
    if comm == "lambda-cap":
        sym = "[wrapper and exec] " + sym
    elif comm != f[:15]:
        sym = f"[thread {comm}] " + sym
    by_symbol[f][(sym[:110], dso)] += 1
    by_object[f][dso] += 1
for f in ["inventory", "billing-api", "billing-consumer"]:
    total = sum(by_symbol[f].values())
    if not total:
        print(f"\n== {f}: no samples")
        continue
    n = len(starts[f])
    print(f"\n== {f}: {total} samples at 20 kHz in {n} processes, {total / 20 / n:.2f} ms of CPU each")
    print("   by object: " + ", ".join(f"{d} {100 * c / total:.1f}%" for d, c in by_object[f].most_common(6)))
    for (sym, dso), c in by_symbol[f].most_common(top):
        print(f"{100 * c / total:6.2f}%  {sym}  [{dso}]")
EOF
