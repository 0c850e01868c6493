#!/usr/bin/env bash
# Runs one Lua test service through the tern binary.
# Usage (from the project root): run_lua_test.sh <tern> <test_name>
# The test prints "PASS <name>" or "FAIL <name>: why" and aborts the node.
set -u
TERN=$1
NAME=$2
CONFIG=$(mktemp /tmp/tern-luatest-XXXXXX.lua)
trap 'rm -f "$CONFIG"' EXIT
cat >"$CONFIG" <<CONF
thread = 2
harbor = 1
bootstrap = "snlua bootstrap"
start = "$NAME"
luaservice = "./service/?.lua;./tests/lua/?.lua"
lualoader = "./lualib/loader.lua"
lua_path = "./lualib/?.lua;./lualib/?/init.lua;./tests/lua/?.lua"
lua_cpath = ""
cpath = "./cservice/?.so"
monitor_interval_s = 1
CONF
out=$(timeout 60 "$TERN" "$CONFIG" 2>&1)
rc=$?
echo "$out"
if [ $rc -eq 124 ]; then
  echo "FAIL $NAME: timed out after 60 s"
  exit 1
fi
if [ $rc -eq 0 ] && grep -q "^PASS $NAME\$" <<<"$out" && ! grep -q "^FAIL" <<<"$out"; then
  exit 0
fi
echo "FAIL $NAME: no PASS line (exit status $rc)"
exit 1
