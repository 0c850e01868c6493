#!/usr/bin/env bash
# tern-server with a Lua script (tests/integration/lua_server/app.lua), both
# modes, through a python3 client. Args: path to tern-server. Run from the root.
set -u
TERN_SERVER=$1
WORK=$(mktemp -d /tmp/tern-luasrv-XXXXXX)
pid=""
cleanup() {
  [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
fail=0
source "$(dirname "$0")/net_lib.sh"  # free_port
# talk PORT LINE...: one connection, one reply line per line sent
talk() {
  python3 - "$@" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
for _ in range(50):
    try:
        s = socket.create_connection(("127.0.0.1", port), 1); break
    except OSError:
        time.sleep(0.1)
s.settimeout(3)
f = s.makefile("rb")
for line in sys.argv[2:]:
    s.sendall(line.encode() + b"\n")
    if line == "boom":
        continue
    print(f.readline().decode().rstrip("\n"))
PY
}

for mode in process base; do
  port=$(free_port)
  "$TERN_SERVER" tests/integration/lua_server/app.lua "$port" "$mode" >"$WORK/$mode.log" 2>&1 &
  pid=$!
  out=$(talk "$port" hello whoami exists stats)
  grep -q "^echo hello$" <<<"$out"; check "$mode: echo through a Lua onReceive" $?
  grep -q "^worker [01] pid [0-9]*$" <<<"$out"; check "$mode: s.worker_id, s.worker_pid" $?
  grep -q "^true false$" <<<"$out"; check "$mode: exists" $?
  grep -q "^connections [1-9]" <<<"$out"; check "$mode: stats" $?
  out=$(talk "$port" boom "after boom")
  grep -q "^echo after boom$" <<<"$out"; check "$mode: a callback that raises is logged and the worker serves on" $?
  grep -q "boom requested" "$WORK/$mode.log" && grep -q "traceback" "$WORK/$mode.log"
  check "$mode: the error is logged with a traceback" $?
  out=$(talk "$port" "upper abc" "later xyz" pipe)
  grep -q "^ABC (task worker 2)$" <<<"$out"; check "$mode: taskwait runs onTask in the task worker" $?
  grep -q "^finished XYZ (task worker 2)$" <<<"$out"; check "$mode: task() result reaches onFinish" $?
  grep -q "^true$" <<<"$out"; check "$mode: sendMessage to the other worker" $?
  sleep 0.3
  grep -q "pipe message from [01]: hi from [01]" "$WORK/$mode.log"; check "$mode: onPipeMessage in the other worker" $?
  out=$(talk "$port" bye)
  grep -q "^bye$" <<<"$out"; check "$mode: close from the worker" $?
  [ "$(grep -c '^worker start' "$WORK/$mode.log")" -ge 2 ]; check "$mode: onWorkerStart in each worker" $?
  kill -TERM "$pid"; wait "$pid"; rc=$?; pid=""
  check "$mode: SIGTERM stops it (exit $rc)" $rc
done

# A bad setting is refused at set() with the key named; the script fails with status 1.
cat >"$WORK/bad.lua" <<'LUA'
local server = require "tern.server"
local s = server.new("127.0.0.1", 1)
s:set { worker_num = -3 }
LUA
out=$("$TERN_SERVER" "$WORK/bad.lua" 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "worker_num" <<<"$out"; check "bad setting: clear error naming the key, exit 1" $?

cat >"$WORK/badev.lua" <<'LUA'
local server = require "tern.server"
local s = server.new("127.0.0.1", 1)
s:on("Recieve", function() end)
LUA
out=$("$TERN_SERVER" "$WORK/badev.lua" 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "unknown event 'Recieve'" <<<"$out"; check "misspelt event name is an error" $?

[ $fail -eq 0 ] || { for f in "$WORK"/*.log; do echo "--- $f"; cat "$f"; done; }
exit $fail
