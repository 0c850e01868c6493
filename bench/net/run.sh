#!/usr/bin/env bash
# make bench SUITE=net: TCP echo servers on tern, driven by tern_load_client.
# For each case: start a node (2 workers) running the case's service, run the
# load client with 50 connections of 64-byte messages at window 1 and 16, print
# its JSON lines, stop the node. NET_CASES (default all) picks cases by name;
# NET_SECONDS (default 5) is the measured time per run.
set -euo pipefail
build=${BUILD_DIR:-build/release}
seconds=${NET_SECONDS:-5}
cd "$(dirname "$0")/../.."

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

node_pid=""
cleanup() { [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null; node_pid=""; }
trap cleanup EXIT

# run_case NAME SERVICE HEADER: SERVICE is a C module ("module args", PORT in it
# is replaced) run as the bootstrap, or "lua:NAME ARGS", a Lua start service.
run_case() {
  local name=$1 service=$2 header=$3 start=""
  if [[ $service == lua:* ]]; then start=${service#lua:}; service="snlua bootstrap"; fi
  if [ -n "${NET_CASES:-}" ] && [[ ",$NET_CASES," != *",$name,"* ]]; then return; fi
  local port
  port=$(free_port)
  TERN_BENCH_PORT=$port TERN_BENCH_SERVICE=${service//PORT/$port} TERN_BENCH_START=$start "$build/tern" bench/net/config &
  node_pid=$!
  for window in 1 16; do
    "$build/bench/tern_load_client" --host 127.0.0.1 --port "$port" --connections 50 --size 64 \
      --window "$window" --header "$header" --duration "$seconds" --warmup 1 \
      --server-pid "$node_pid" --bench "net.$name.w$window" --impl tern
  done
  cleanup
}

run_case echo_cpp "echo_cpp 127.0.0.1 PORT" none
run_case echo_lua "lua:echo_lua" none
run_case echo_lua_agents "lua:echo_lua agents" none
run_case echo_gate "lua:echo_gate" 2
