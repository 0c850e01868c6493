# Helpers for tests/integration/cluster*_test.sh (sourced): start and stop
# nodes, drive them through their debug consoles, wait for log lines.
# Needs: TERN, WORK, MAP set; net_lib.sh sourced (free_port, wait_port).
HERE=tests/integration/cluster
declare -A NODE_PID NODE_CONSOLE NODE_LOG

fail=0
t_start=$(date +%s%N)
lap() {  # time since the start, "t+S.CC s"
  local now
  now=$(date +%s%N)
  printf 't+%d.%02d s' $(((now - t_start) / 1000000000)) $(((now - t_start) / 10000000 % 100))
}

# start_node NAME [EXTRA-CONFIG-LINE]: starts a node whose cluster port is its
# entry in $MAP; waits until it says it is ready.
start_node() {
  local name=$1 extra=${2-}
  local console=${NODE_CONSOLE[$name]:-$(free_port)}
  NODE_CONSOLE[$name]=$console
  NODE_LOG[$name]=$WORK/$name.log
  sed -e "s|@LOG@|$WORK/$name.log|" -e "s|@MAP@|$MAP|" -e "s|@NAME@|$name|" \
    -e "s|@CONSOLE@|$console|" "$HERE/config.in" >"$WORK/$name.config"
  [ -n "$extra" ] && echo "$extra" >>"$WORK/$name.config"
  "$TERN" "$WORK/$name.config" 2>>"$WORK/$name.stderr" &
  NODE_PID[$name]=$!
  wait_log "${NODE_LOG[$name]}" "node $name ready" 10
}

stop_node() {  # stop_node NAME: SIGTERM, then SIGKILL after 5 s
  local pid=${NODE_PID[$1]:-}
  [ -z "$pid" ] && return 0
  kill -CONT "$pid" 2>/dev/null
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  NODE_PID[$1]=""
}

stop_all() {
  for n in "${!NODE_PID[@]}"; do stop_node "$n"; done
}


# drive NODE 'args' [SECONDS]: `call .driver args` on NODE's console; prints
# the driver's answer (or the error), returns 0 when it starts with OK.
drive() {
  python3 - "${NODE_CONSOLE[$1]}" "$2" "${3:-30}" <<'PY'
import socket, sys, time
port, args, limit = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
s = socket.create_connection(("127.0.0.1", port), 5)
s.settimeout(0.2)
def read_until(marks, deadline):
    out = b""
    while time.time() < deadline:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            if any(out.endswith(m) for m in marks):
                return out
            continue
        if not chunk:
            break
        out += chunk
        if any(out.endswith(m) for m in marks):
            return out
    return out
read_until([b"skynet console\n", b"help for command list\n"], time.time() + 5)
s.sendall(b"call .driver " + args.encode() + b"\n")
out = read_until([b"<CMD OK>\n", b"<CMD Error>\n"], time.time() + limit).decode(errors="replace")
lines = [l for l in out.splitlines() if l and not l.startswith("<CMD")]
answer = " | ".join(l.split("\t", 1)[-1] for l in lines if not l.startswith("n\t"))
print(answer if answer else "(no answer within %.0f s)" % limit)
sys.exit(0 if answer.startswith("OK") else 1)
PY
}

# check_sanitizers: after the nodes stopped, no ASan/UBSan/LSan report in their stderr.
check_sanitizers() {
  local found
  found=$(grep -l -E "Sanitizer|runtime error:" "$WORK"/*.stderr 2>/dev/null)
  if [ -n "$found" ]; then
    for f in $found; do echo "--- $f"; grep -E -A20 "Sanitizer|runtime error:" "$f" | head -60; done
  fi
  [ -z "$found" ]
  rc=$?; check "no sanitizer report from any node" $rc
}
