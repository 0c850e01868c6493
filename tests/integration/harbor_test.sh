#!/usr/bin/env bash
# Harbor (master/slave) mode end to end: three tern nodes on 127.0.0.1 with
# harbor ids 1 (also the master), 2 and 3, driven by
# tests/integration/harbor/h_main.lua, which logs PASS/FAIL lines.
#   A: nodes 1 and 2: calls and sends across, global names both ways, queryname,
#      errors, sizes up to 1 MiB, ordering of 2000 sends.
#   B: node 3 joins (its links made through the master), is killed with -9:
#      harbor.link returns, calls in flight and new calls fail with an error.
#   C: garbage on the master port and on both slave ports, and a fake harbor 9
#      that sends bad frames on its links: logged, refused, the nodes stay up.
#   D: the master node is killed: harbor.linkmaster returns on node 2.
# Args: path to tern. Run from the project root (ctest does).
set -u
TERN=$1
WORK=$(mktemp -d /tmp/tern-harbor-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  if [ "$fail" -ne 0 ]; then
    for f in "$WORK"/*.log; do echo "---- $f"; tail -n 60 "$f"; done
  fi
  rm -rf "$WORK"
}
fail=0
trap cleanup EXIT
source "$(dirname "$0")/net_lib.sh"  # free_port, wait_port

MPORT=$(free_port)
declare -A SPORT
for n in 1 2 3; do SPORT[$n]=$(free_port); done

config() {  # config N [standalone]
  cat >"$WORK/node$1.conf" <<CONF
thread = 2
harbor = $1
start = "h_main"
harbor_test_role = "node$1"
luaservice = "./service/?.lua;./tests/integration/harbor/?.lua"
lualoader = "./lualib/loader.lua"
lua_path = "./lualib/?.lua;./lualib/?/init.lua"
cpath = "./cservice/?.so"
address = "127.0.0.1:${SPORT[$1]}"
master = "127.0.0.1:$MPORT"
logger = "$WORK/node$1.log"
CONF
  [ "${2:-}" = standalone ] && echo "standalone = \"127.0.0.1:$MPORT\"" >>"$WORK/node$1.conf"
}


start_node() {  # start_node N
  "$TERN" "$WORK/node$1.conf" >"$WORK/node$1.out" 2>&1 &
  eval "node$1_pid=$!"
  pids+=($!)
}

config 1 standalone; config 2; config 3
start_node 1
wait_log "$WORK/node1.log" "READY node1" 15; check "node 1 (master) starts" $?
start_node 2
wait_log "$WORK/node2.log" "DONE phase A" 20; check "phase A completes on node 2" $?
grep -q "master: harbor 2 joined" "$WORK/node1.log"; check "the master logs harbor 2 joining" $?

start_node 3
wait_log "$WORK/node3.log" "READY node3" 15; check "node 3 joins and calls nodes 1 and 2" $?
wait_log "$WORK/node2.log" "READY for kill" 15; check "node 2 has a call in flight to node 3" $?
kill -9 "$node3_pid"
wait "$node3_pid" 2>/dev/null
wait_log "$WORK/node2.log" "DONE phase B" 10; check "phase B (node 3 killed) completes" $?
grep -q "harbor 3 is down" "$WORK/node1.log"; check "node 1 sees harbor 3 down" $?

# Phase C: garbage on the ports.
python3 - "$MPORT" "${SPORT[1]}" "${SPORT[2]}" <<'PY'
import socket, struct, sys, time
mport, s1, s2 = map(int, sys.argv[1:4])
def hello(i, magic=b"THRB", version=1):
    return struct.pack(">I4sBB", 6, magic, version, i)
def send(port, data, wait=0.05):
    c = socket.create_connection(("127.0.0.1", port))
    try:
        c.sendall(data)
        time.sleep(wait)
    except OSError:
        pass
    c.close()
# master port
send(mport, b"\x00\xff\x13garbage" * 10 + b"\n")
send(mport, b"GET / HTTP/1.0\r\n\r\n")
send(mport, b"H 0 127.0.0.1:1\n")
send(mport, b"H 2 127.0.0.1:1\n")            # harbor 2 is taken
send(mport, b"x" * 100000, wait=0.2)           # no newline: over the unread limit
send(mport, b"")                                # connect, close
# slave ports
for port in (s1, s2):
    send(port, b"\xde\xad\xbe\xef" * 8)
    send(port, hello(5, magic=b"EVIL"))
    send(port, hello(200))                      # nobody announced harbor 200
    send(port, hello(1 if port == s2 else 2))   # already linked
    send(port, hello(7, version=9))
    send(port, b"\x00\x00\x00")                 # truncated hello
    send(port, b"z" * 100000, wait=0.2)
PY
kill -0 "$node1_pid" && kill -0 "$node2_pid"; check "nodes 1 and 2 survive garbage on their ports" $?
for pat in "connection from .* refused: control or non-ASCII" "refused: bad harbor id 0" \
           "refused: harbor 2 is taken" "refused: connection closed"; do
  wait_log "$WORK/node1.log" "$pat" 3; check "master log: $pat" $?
done
for n in 1 2; do
  for pat in "refused: bad hello \\(not a tern harbor link\\)" "refused: hello from harbor 200, which is unknown" \
             "which is linked" "hello of wire version 9" "refused: closed before its hello"; do
    wait_log "$WORK/node$n.log" "$pat" 3; check "node $n log: $pat" $?
  done
done

# A fake harbor 9: joins through the master, then answers each node's link
# with a bad frame (node 1: an oversized length, node 2: a frame shorter than
# its trailer), then sends the master a bad line.
timeout 20 python3 - "$MPORT" <<'PY' &
import socket, struct, sys, time
mport = int(sys.argv[1])
lst = socket.socket(); lst.bind(("127.0.0.1", 0)); lst.listen(8)
port = lst.getsockname()[1]
m = socket.create_connection(("127.0.0.1", mport))
m.sendall(b"H 9 127.0.0.1:%d\n" % port)
assert m.recv(100).startswith(b"W")
lst.settimeout(10)
keep = []
for _ in range(2):
    c, _ = lst.accept()
    data = b""
    while len(data) < 10:
        data += c.recv(10 - len(data))
    peer = data[9]
    c.sendall(struct.pack(">I4sBB", 6, b"THRB", 1, 9))
    if peer == 1:
        c.sendall(b"\xff\xff\xff\xff" + b"x" * 10)
    else:
        c.sendall(struct.pack(">I", 5) + b"abcde")
    keep.append(c)
time.sleep(0.1)
m.sendall(b"Z what\n")
time.sleep(0.2)
PY
fake=$!
pids+=($fake)
wait_log "$WORK/node2.log" "DONE phase C" 15; check "phase C (a harbor sending garbage) completes" $?
wait "$fake"; check "the fake harbor 9 saw both nodes link to it" $?
grep -q "harbor 9 is down: protocol error: frame of 4294967295 bytes is over the limit" "$WORK/node1.log"
check "node 1 logs the oversized frame" $?
grep -q "harbor 9 is down: protocol error: frame of 5 bytes is shorter than its 14-byte trailer" "$WORK/node2.log"
check "node 2 logs the short frame" $?
wait_log "$WORK/node1.log" "master: harbor 9 is down \\(bad message \"Z what\"\\)" 3; check "the master drops harbor 9 for its bad line" $?

# Phase D: the master goes away.
kill -9 "$node1_pid"
wait "$node1_pid" 2>/dev/null
wait_log "$WORK/node2.log" "linkmaster returned" 10; check "harbor.linkmaster returns on node 2" $?

n_fail=$(grep -c "FAIL" "$WORK/node2.log" "$WORK/node3.log" | awk -F: '{s+=$2} END {print s}')
[ "$n_fail" -eq 0 ]; check "no FAIL lines in the node logs" $?
grep -h "PASS\|FAIL" "$WORK/node2.log" "$WORK/node3.log" | sed 's/^[^]]*] /     /'
n_pass=$(grep -c "PASS" "$WORK/node2.log")
[ "$n_pass" -eq 33 ]; check "node 2 passed all 33 checks ($n_pass)" $?

kill -TERM "$node2_pid"; wait "$node2_pid"; check "node 2 stops cleanly on SIGTERM" $?
exit $fail
