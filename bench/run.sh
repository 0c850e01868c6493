#!/usr/bin/env bash
# make bench SUITE=<name>: runs tern and its peer in one run and prints one JSON
# line per case and implementation, then the tern/peer ratio per case.
# RUNS (default 1) repeats each program; every run's lines are printed.
set -euo pipefail
suite=${1:-core}
runs=${RUNS:-1}
build=${BUILD_DIR:-build/release}
cd "$(dirname "$0")/.."

case "$suite" in
  core)
    programs=("$build/bench/tern_core_bench" "$build/bench/peers/caf_core_bench")
    ;;
  lua)
    # skynet is not packaged for Debian, so no peer runs in the same run; the
    # figures to compare with are in docs/benchmarks.md.
    programs=("$build/tern bench/lua/config")
    ;;
  net)
    # skynet and swoole are not Debian packages: their figures are in docs/benchmarks.md.
    programs=("bash bench/net/run.sh")
    ;;
  server)
    # swoole is not a Debian package: its figures are in docs/benchmarks.md.
    programs=("bash bench/server/run.sh")
    ;;
  cluster)
    # skynet is not a Debian package: two tern nodes on loopback, tern only.
    programs=("bash bench/cluster/run.sh")
    ;;
  *)
    echo "bench: unknown suite '$suite' (known: core, lua, net, server, cluster)" >&2
    exit 2
    ;;
esac

out=$(mktemp)
trap 'rm -f "$out"' EXIT
for ((r = 0; r < runs; r++)); do
  for p in "${programs[@]}"; do
    $p | grep '^{' | tee -a "$out"
  done
done

# Ratios of medians, on stderr so stdout stays one JSON line per case and
# implementation: tern / peer (for seconds and bytes lower is better: peer / tern).
python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
cases = {}
for r in rows:
    cases.setdefault(r["bench"], {}).setdefault(r["impl"], []).append(r["value"])
for bench, impls in cases.items():
    if "tern" not in impls or len(impls) < 2:
        continue
    peer = next(i for i in impls if i != "tern")
    t, p = statistics.median(impls["tern"]), statistics.median(impls[peer])
    unit = next(r["unit"] for r in rows if r["bench"] == bench)
    better_low = unit in ("s", "bytes")
    ratio = (p / t) if better_low else (t / p)
    print(f"ratio {bench}: tern is {ratio:.2f}x {peer} (median of {len(impls['tern'])} runs;"
          f" tern {t:.4g} {unit}, {peer} {p:.4g} {unit})", file=sys.stderr)
PY
