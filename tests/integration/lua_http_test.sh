#!/usr/bin/env bash
# tern-server with the Http and WebSocket Lua API
# (tests/integration/lua_server/http_app.lua), PROCESS and BASE, checked by
# http_check.py (python3, standard library). Args: path to tern-server. Run
# from the root.
set -u
TERN_SERVER=$1
WORK=$(mktemp -d /tmp/tern-luahttp-XXXXXX)
pid=""
cleanup() {
  [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
fail=0
source "$(dirname "$0")/net_lib.sh"  # free_port

for mode in process base; do
  for kind in http websocket; do
    port=$(free_port)
    log="$WORK/$mode-$kind.log"
    "$TERN_SERVER" tests/integration/lua_server/http_app.lua "$port" "$mode" "$kind" >"$log" 2>&1 &
    pid=$!
    python3 tests/integration/lua_server/http_check.py "$port" "$kind" | sed "s/^\(ok  \|FAIL\) /&$mode $kind: /"
    check "$mode $kind: every HTTP check" "${PIPESTATUS[0]}"
    grep -q "boom requested" "$log" && grep -q "traceback" "$log"
    check "$mode $kind: the raising handler is logged with a traceback" $?
    kill -TERM "$pid"; wait "$pid"; rc=$?; pid=""
    check "$mode $kind: SIGTERM stops it (exit $rc)" $rc
  done
done

# Events belong to their kind of server: Receive on an Http server, Message on
# a plain one, and push() on an Http server are errors.
cat >"$WORK/badev.lua" <<'LUA'
local server = require "tern.server"
local which = arg[1]
if which == "receive" then server.http("127.0.0.1", 1):on("Receive", function() end)
elseif which == "message" then server.new("127.0.0.1", 1):on("Message", function() end)
else server.http("127.0.0.1", 1):push(1, "x") end
LUA
out=$("$TERN_SERVER" "$WORK/badev.lua" receive 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "unknown event 'Receive'" <<<"$out"; check "Receive on an Http server is refused" $?
out=$("$TERN_SERVER" "$WORK/badev.lua" message 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "unknown event 'Message'" <<<"$out"; check "Message on a plain server is refused" $?
out=$("$TERN_SERVER" "$WORK/badev.lua" push 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "push: not a WebSocket server" <<<"$out"; check "push on an Http server is refused" $?

[ $fail -eq 0 ] || { for f in "$WORK"/*.log; do echo "--- $f"; cat "$f"; done; }
exit $fail
