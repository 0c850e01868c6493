#!/usr/bin/env bash
# Runs one Lua test service as the start service of a tern node.
#
# Usage (cwd = project root):  run_lua_test.sh <path-to-tern-binary> <test_name>
#
# Writes a temporary skynet-style config, runs `timeout 30 <tern> <config>`,
# prints the node's output, and exits 0 only if the output has the line
# "PASS <test_name>" and no line starting with "FAIL"; 1 otherwise.
set -u

if [ $# -ne 2 ]; then
  echo "usage: $0 <path-to-tern-binary> <test_name>" >&2
  exit 2
fi

TERN=$1
NAME=$2
# Directory of this script (it holds the test services, helpers and testlib).
TESTDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [ ! -f "$TESTDIR/$NAME.lua" ]; then
  echo "FAIL $NAME: no such test file $TESTDIR/$NAME.lua"
  exit 1
fi

CONFIG=$(mktemp "${TMPDIR:-/tmp}/tern-luatest-$NAME-XXXXXX")
trap 'rm -f "$CONFIG"' EXIT

cat >"$CONFIG" <<CONF
thread = 2
harbor = 1
bootstrap = "snlua bootstrap"
start = "$NAME"
luaservice = "./service/?.lua;$TESTDIR/?.lua"
lualoader = "./lualib/loader.lua"
lua_path = "./lualib/?.lua;./lualib/?/init.lua;$TESTDIR/?.lua"
lua_cpath = ""
cpath = "./cservice/?.so"
monitor_interval_s = 1
CONF

OUTPUT=$(timeout 30 "$TERN" "$CONFIG" 2>&1)
STATUS=$?
printf '%s\n' "$OUTPUT"

if [ $STATUS -eq 124 ] || [ $STATUS -eq 137 ]; then
  echo "run_lua_test: $NAME timed out after 30 s (node did not exit; status $STATUS)"
  exit 1
fi

if grep -qx "PASS $NAME" <<<"$OUTPUT" && ! grep -q '^FAIL' <<<"$OUTPUT"; then
  if [ $STATUS -ne 0 ]; then
    echo "run_lua_test: $NAME printed PASS but the node exited with status $STATUS"
    exit 1
  fi
  exit 0
fi

echo "run_lua_test: $NAME failed (no 'PASS $NAME' line, or a FAIL line; node exit status $STATUS)"
exit 1
