#!/usr/bin/env bash
# make bench SUITE=cluster: two nodes on loopback (2 worker threads each, on
# the machine's cores): node "client" calls node "server" through the cluster
# and prints one JSON line per case (bench/cluster/bench_cluster.lua):
#   cluster.call_c1, cluster.call_c16   cross-node call round trips/s, 1 and 16 callers
#   cluster.send                        cross-node sends/s (batches of 1,000 closed by a call)
#   cluster.transfer_10mib              seconds for a call carrying 10 MiB (median of 5)
# CLUSTER_SECONDS (default 5) is the measured time of each timed case.
set -euo pipefail
build=${BUILD_DIR:-build/release}
cd "$(dirname "$0")/../.."
work=$(mktemp -d /tmp/tern-bench-cluster-XXXXXX)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
[ -n "${CLUSTER_BENCH_KEEP:-}" ] && trap - EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
echo "server = \"127.0.0.1:$port\"" >"$work/map.lua"
export CLUSTER_BENCH_MAP=$work/map.lua CLUSTER_BENCH_SECONDS=${CLUSTER_SECONDS:-5}
CLUSTER_BENCH_ROLE=server CLUSTER_BENCH_LOG=$work/server.log "$build/tern" bench/cluster/config 2>/dev/null &
server_pid=$!
CLUSTER_BENCH_ROLE=client CLUSTER_BENCH_LOG=$work/client.log "$build/tern" bench/cluster/config 2>/dev/null
wait "$server_pid" 2>/dev/null || true
server_pid=""
