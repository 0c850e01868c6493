#!/usr/bin/env bash
# End-to-end tests of `tern CONFIG`. Args: path to tern, test module dir.
set -u
TERN=$1
MODULES=$2
WORK=$(mktemp -d /tmp/tern-cli-XXXXXX)
trap 'pkill -f "$WORK" 2>/dev/null; rm -rf "$WORK"' EXIT
fail=0
check() {  # check NAME CONDITION-EXIT-CODE
  if [ "$2" -eq 0 ]; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi
}

config() {  # config FILE BOOTSTRAP [extra lines...]
  local file=$1 boot=$2
  shift 2
  {
    echo "thread = 2"
    echo "cpath = \"$MODULES/?.so\""
    echo "bootstrap = \"$boot\""
    for line in "$@"; do echo "$line"; done
  } >"$file"
}

# 1. A million round trips through the binary, then a clean exit.
config "$WORK/pp.lua" "itest_pingpong 1000000"
out=$("$TERN" "$WORK/pp.lua" 2>&1); rc=$?
[ $rc -eq 0 ] && grep -q "pingpong done 1000000 round trips" <<<"$out"; check "pingpong 1,000,000 round trips, exit 0" $?

# 2. A malformed config: file and line, exit 1.
printf 'thread = 2\nharbor = 1\nstart = = "x"\n' >"$WORK/bad.lua"
out=$("$TERN" "$WORK/bad.lua" 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "bad.lua:3:" <<<"$out"; check "syntax error names file:line, exit 1 (got $rc: $out)" $?

# 3. A runtime error in the config.
printf 'thread = 2\nx = nosuch.field\n' >"$WORK/bad2.lua"
out=$("$TERN" "$WORK/bad2.lua" 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "bad2.lua:2:" <<<"$out"; check "runtime error names file:line, exit 1" $?

# 4. A bad value.
config "$WORK/bad3.lua" "itest_pingpong 10" 'thread = "many"'
out=$("$TERN" "$WORK/bad3.lua" 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "thread must be an integer" <<<"$out"; check "bad thread value, exit 1" $?

# 5. Unknown keys warn and the node still runs; a later line extends an earlier one.
config "$WORK/warn.lua" "itest_pingpong 10" 'my_setting = "a"' 'my_setting = my_setting .. "b"'
out=$("$TERN" "$WORK/warn.lua" 2>&1); rc=$?
[ $rc -eq 0 ] && grep -q "unknown config key 'my_setting'" <<<"$out"; check "unknown key is a warning" $?

# 6. A bootstrap that fails: the reason is logged and the exit status is 1.
config "$WORK/boot.lua" "no_such_module"
out=$(timeout 20 "$TERN" "$WORK/boot.lua" 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "can't find module 'no_such_module'" <<<"$out"; check "failed bootstrap exits 1 with the reason" $?

# 7. SIGTERM stops a running node cleanly.
config "$WORK/forever.lua" "itest_pingpong forever" "logger = \"$WORK/forever.log\""
"$TERN" "$WORK/forever.lua" & pid=$!
for _ in $(seq 50); do grep -q "tick 1" "$WORK/forever.log" 2>/dev/null && break; sleep 0.1; done
kill -TERM $pid; wait $pid; rc=$?
check "SIGTERM: clean exit 0 (got $rc)" $rc

# 8. SIGHUP reopens the log file (logrotate).
rm -f "$WORK/forever.log"
"$TERN" "$WORK/forever.lua" & pid=$!
for _ in $(seq 50); do grep -q "tick 1" "$WORK/forever.log" 2>/dev/null && break; sleep 0.1; done
mv "$WORK/forever.log" "$WORK/forever.log.1"
kill -HUP $pid
for _ in $(seq 50); do [ -s "$WORK/forever.log" ] && break; sleep 0.1; done
kill -TERM $pid; wait $pid
[ -s "$WORK/forever.log" ] && grep -q "tick" "$WORK/forever.log"; check "SIGHUP reopens the log file" $?

# 9. Daemon mode: pid file written, a second start refused, file removed on exit.
config "$WORK/daemon.lua" "itest_pingpong forever" "logger = \"$WORK/daemon.log\"" "daemon = \"$WORK/tern.pid\""
"$TERN" "$WORK/daemon.lua"; rc=$?
for _ in $(seq 50); do [ -s "$WORK/tern.pid" ] && break; sleep 0.1; done
dpid=$(cat "$WORK/tern.pid" 2>/dev/null)
[ $rc -eq 0 ] && [ -n "$dpid" ] && kill -0 "$dpid"; check "daemon writes its pid file" $?
out=$("$TERN" "$WORK/daemon.lua" 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "already running" <<<"$out"; check "second daemon refused while the first lives" $?
kill -TERM "$dpid"
for _ in $(seq 100); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.1; done
[ ! -e "$WORK/tern.pid" ]; check "pid file removed on exit" $?

# 10. A Lua bootstrap: skynet.abort() loses no log line and no print output.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cat >"$WORK/lua.lua" <<CONF
thread = 2
bootstrap = "snlua bootstrap"
start = "t_logflood"
luaservice = "$ROOT/service/?.lua;$ROOT/tests/lua/?.lua"
lualoader = "$ROOT/lualib/loader.lua"
lua_path = "$ROOT/lualib/?.lua"
CONF
out=$("$TERN" "$WORK/lua.lua" 2>&1); rc=$?
logs=$(grep -c "log line" <<<"$out"); prints=$(grep -c "^print line" <<<"$out")
[ $rc -eq 0 ] && [ "$logs" -eq 2000 ] && [ "$prints" -eq 2000 ]; check "abort keeps every log line and print ($logs logs, $prints prints, rc $rc)" $?

# 11. A Lua start service that fails: the node exits with status 1 and says why.
sed 's/start = "t_logflood"/start = "no_such_start"/' "$WORK/lua.lua" >"$WORK/lua2.lua"
out=$(timeout 20 "$TERN" "$WORK/lua2.lua" 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "no_such_start" <<<"$out"; check "failing start service exits 1 (rc $rc)" $?

# 12. A Lua bootstrap that cannot load at all: exit status 1.
sed 's/bootstrap = "snlua bootstrap"/bootstrap = "snlua no_such_bootstrap"/' "$WORK/lua.lua" >"$WORK/lua3.lua"
out=$(timeout 20 "$TERN" "$WORK/lua3.lua" 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "no_such_bootstrap" <<<"$out"; check "failing Lua bootstrap exits 1 (rc $rc)" $?

# 13. A Lua service passing 32 MiB logs a memory warning.
sed 's/start = "t_logflood"/start = "t_bigmem"/' "$WORK/lua.lua" >"$WORK/lua4.lua"
out=$(timeout 20 "$TERN" "$WORK/lua4.lua" 2>&1); rc=$?
[ $rc -eq 0 ] && grep -q "Memory warning 32" <<<"$out"; check "memory report past 32 MiB (rc $rc)" $?

exit $fail
