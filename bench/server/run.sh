#!/usr/bin/env bash
# make bench SUITE=server: TCP echo on tern::server (swoole's Server design),
# C++ (examples/server/echo_server.cpp) and Lua (examples/server/echo.lua)
# callbacks, PROCESS and BASE modes, 2 workers, driven by tern_load_client with
# 50 connections of 64-byte messages: (a) one message outstanding per
# connection, (b) 16 outstanding with a 4-byte big-endian length header and
# open_length_check (onReceive once per message). Server CPU counts the master,
# the manager and the workers. SERVER_CASES picks cases; NET_SECONDS the time.
set -euo pipefail
build=${BUILD_DIR:-build/release}
seconds=${NET_SECONDS:-5}
cd "$(dirname "$0")/../.."

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}
trap cleanup EXIT

# run_one NAME LANG MODE WINDOW HEADER
run_one() {
  local name=$1 lang=$2 mode=$3 window=$4 header=$5
  if [ -n "${SERVER_CASES:-}" ] && [[ ",$SERVER_CASES," != *",$name,"* ]]; then return; fi
  local port framed=""
  port=$(free_port)
  if [ "$lang" = cpp ]; then
    [ "$header" = 4 ] && framed=length
    "$build/examples/tern_echo_server" 127.0.0.1 "$port" "$mode" 2 $framed >/dev/null 2>&1 &
  else
    [ "$header" = 4 ] && framed=4
    "$build/tern-server" examples/server/echo.lua "$port" "$mode" 2 $framed >/dev/null 2>&1 &
  fi
  server_pid=$!
  "$build/bench/tern_load_client" --host 127.0.0.1 --port "$port" --connections 50 --size 64 \
    --window "$window" --header "$header" --duration "$seconds" --warmup 1 \
    --server-pid "$server_pid" --server-tree 1 --bench "server.$name" --impl tern
  cleanup
}

for lang in cpp lua; do
  for mode in process base; do
    run_one "echo_${lang}_${mode}.w1" "$lang" "$mode" 1 none
    run_one "echo_${lang}_${mode}.w16_length" "$lang" "$mode" 16 4
  done
done

# Idle footprint: PSS of every server process, and per idle connection.
for lang in cpp lua; do
  if [ -n "${SERVER_CASES:-}" ] && [[ ",$SERVER_CASES," != *",footprint_$lang,"* ]]; then continue; fi
  if [ "$lang" = cpp ]; then
    python3 bench/server/footprint.py "$build/examples/tern_echo_server" process cpp
  else
    python3 bench/server/footprint.py "$build/tern-server" process lua examples/server/echo.lua
  fi
done
