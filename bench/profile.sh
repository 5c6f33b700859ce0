#!/usr/bin/env bash
# make bench-profile: where the CPU of a cold start goes under Lambda's CPU share.
#
# Builds the functions with the release settings but their symbols kept (`--profile profiling`,
# target/profiling/), runs the power-tuning phase of the bench at one memory size
# (PROFILE_MEMORY, 256) with every cold start under `perf record` (the perf process joins the
# cgroup with the function, so the profile is taken under the cap), and prints, per function,
# the symbols with the most CPU samples (self time) summed over the cold starts.
#
# Needs perf (Debian: apt-get install linux-perf; installed here if missing) and writable
# cgroups, like the capped part of `make bench`. Writes nothing in the repository: the
# samples go to .local/profile/, the bench runs with BENCH_WRITE=0.
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

say "building the functions with symbols (cargo build --profile profiling)"
cargo build -q --profile profiling \
  --config 'profile.profiling.inherits="release"' --config 'profile.profiling.strip="none"' \
  -p inventory -p billing-api -p billing-consumer
cargo build -q --release -p bench

say "$starts cold starts per function at $memory MB under perf record"
set -a; source .local/env; set +a
BENCH_ONLY=power BENCH_WRITE=0 BENCH_POWER_MEMORY="$memory" BENCH_POWER_COLD_STARTS="$starts" \
  BENCH_POWER_WARM=1 BENCH_FUNCTIONS_DIR="$PWD/target/profiling" BENCH_PROFILE_MEMORY="$memory" \
  BENCH_PROFILE="perf record -q -e cpu-clock -F 20000 -o $PWD/$out/{function}.{pid}.perf --" \
  BENCH_REQUESTS=50 BENCH_REPEAT=1 \
  timeout 600 target/release/bench > "$out/bench.txt"

for f in inventory billing-api billing-consumer; do
  files=("$out/$f".*.perf)
  [ -e "${files[0]}" ] || { say "no samples for $f"; continue; }
  # One line per sample of the function's own process (not perf's), symbol and DSO, summed
  # over every cold start.
  for data in "${files[@]}"; do
    perf script -i "$data" -F comm,sym,dso 2>/dev/null | awk -v f="$f" '$1 == f'
  done | awk -v starts="${#files[@]}" '{ $1 = ""; n[$0]++; total++ }
    END { for (s in n) printf "%6.2f%%  %6d  %s\n", 100 * n[s] / total, n[s], s;
          printf "%6.2f%%  %6d  (every sample of %d cold starts)\n", 100, total, starts }' \
    | sort -rn | head -n "$((top + 1))" > "$out/$f.top.txt"
  echo
  echo "== $f: top $top symbols by CPU samples (self), $memory MB, ${#files[@]} cold starts"
  cat "$out/$f.top.txt"
done
