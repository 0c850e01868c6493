#!/usr/bin/env bash
# fuzz.sh TARGET CORPUS SECONDS WHAT: runs the libFuzzer binary
# build/fuzz/tests/fuzz/TARGET for SECONDS on its seeds (tests/fuzz/corpus/CORPUS)
# and what it found before (build/fuzz/corpus/CORPUS). On a finding it prints
# the log's tail and fails.
set -euo pipefail
target=$1 corpus=$2 seconds=$3 what=$4
log=build/fuzz/$corpus.log
mkdir -p "build/fuzz/corpus/$corpus"
echo "fuzzing $what for $seconds s (log: $log)"
if ! "./build/fuzz/tests/fuzz/$target" -max_total_time="$seconds" -print_final_stats=1 \
    "build/fuzz/corpus/$corpus" "tests/fuzz/corpus/$corpus" >"$log" 2>&1; then
  tail -n 60 "$log"
  exit 1
fi
grep -E "^Done|stat::number_of_executed_units|stat::peak_rss_mb" "$log"
