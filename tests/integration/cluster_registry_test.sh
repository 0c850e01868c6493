#!/usr/bin/env bash
# The cluster registry in etcd end to end (docs/cluster_registry.md): an etcd
# of our own on free ports (never the system's), nodes as tern processes.
#  1. A and B join (B's first etcd endpoint is dead): each finds the other by
#     name and a cluster.call by name succeeds; A's "echo" (cluster.register)
#     is published and B calls the address etcd gives for it.
#  2. A is killed with kill -9: its lease expires (TTL 2 s), B drops it and a
#     call to A then fails at once with an error naming A.
#  3. etcd is killed and started again on the same data dir while B runs:
#     B logs the outage once and the recovery once, re-watches, and a node C
#     started afterwards and B find each other.
#  4. B's lease is revoked behind its back: B grants a new one and puts its
#     keys back; C sees B leave and come back.
# Args: path to tern. Run from the project root (ctest does).
set -u
TERN=$1
TTL=2
PREFIX=/tern-test/
WORK=$(mktemp -d /tmp/tern-creg-XXXXXX)
node_pids=()
etcd_pid=""
failed=0
cleanup() {
  for p in "${node_pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  [ -n "$etcd_pid" ] && kill -9 "$etcd_pid" 2>/dev/null
  wait 2>/dev/null
  [ -n "${KEEP_WORK:-}" ] && echo "kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT
source "$(dirname "$0")/net_lib.sh"  # free_port, wait_port

if ! command -v etcd >/dev/null; then
  echo "FAIL etcd is not installed: apt-get install etcd-server (scripts/install-deps.sh does)"
  exit 1
fi

check() {  # check NAME CONDITION-RESULT [DETAIL]
  if [ "$2" = 0 ]; then echo "ok   $1"; else echo "FAIL $1 ${3:-}"; failed=1; fi
}


CLIENT=$(free_port)
PEER=$(free_port)
DEAD=$(free_port)
while [ "$PEER" = "$CLIENT" ]; do PEER=$(free_port); done
while [ "$DEAD" = "$CLIENT" ] || [ "$DEAD" = "$PEER" ]; do DEAD=$(free_port); done
EP="etcd://127.0.0.1:$CLIENT"

start_etcd() {
  etcd --name default --data-dir "$WORK/etcd" \
    --listen-client-urls "http://127.0.0.1:$CLIENT" --advertise-client-urls "http://127.0.0.1:$CLIENT" \
    --listen-peer-urls "http://127.0.0.1:$PEER" --initial-advertise-peer-urls "http://127.0.0.1:$PEER" \
    --initial-cluster "default=http://127.0.0.1:$PEER" >>"$WORK/etcd.log" 2>&1 &
  etcd_pid=$!
  if ! wait_port "$CLIENT"; then
    echo "FAIL etcd does not listen on $CLIENT"; tail -20 "$WORK/etcd.log"; exit 1
  fi
}

# start_node NAME ENDPOINTS: a node whose log is $WORK/NAME.log. Its cluster
# file names only itself; the others come from etcd.
start_node() {
  local port
  port=$(free_port)
  echo "$1 = \"127.0.0.1:$port\"" >"$WORK/$1.cluster"
  cat >"$WORK/$1.config" <<EOF
thread = 2
bootstrap = "snlua bootstrap"
start = "reg_node"
luaservice = "./service/?.lua;./tests/integration/cluster_registry/?.lua"
lualoader = "./lualib/loader.lua"
lua_path = "./lualib/?.lua;./lualib/?/init.lua"
logger = "$WORK/$1.log"
cluster = "$WORK/$1.cluster"
cluster_registry = "$2"
cluster_registry_prefix = "$PREFIX"
cluster_registry_ttl = $TTL
test_node = "$1"
EOF
  "$TERN" "$WORK/$1.config" 2>"$WORK/$1.err" &
  node_pids+=($!)
  eval "pid_$1=$!"
  eval "port_$1=$port"
}

etcd_range() {  # etcd_range KEY: the JSON answer for one key
  curl -s --noproxy '*' -X POST "http://127.0.0.1:$CLIENT/v3/kv/range" \
    -d "{\"key\":\"$(printf %s "$1" | base64 -w0)\"}"
}

start_etcd

# 1. Join and discovery, with a dead first endpoint for B.
start_node A "$EP"
start_node B "etcd://127.0.0.1:$DEAD,127.0.0.1:$CLIENT"
wait_log "$WORK/B.log" "JOIN A 127.0.0.1:$port_A\$" 10
check "B finds A by name (B's first endpoint is dead)" $? "$(tail -5 "$WORK/B.log")"
wait_log "$WORK/A.log" "JOIN B 127.0.0.1:$port_B\$" 10
check "A finds B by name" $?
wait_log "$WORK/B.log" "CALL A ok A ping\$" 5
check "B calls A by node name (cluster.call)" $? "$(grep CALL "$WORK/B.log")"
wait_log "$WORK/A.log" "CALL B ok B ping\$" 5
check "A calls B by node name" $?
wait_log "$WORK/B.log" "NAME A echo [0-9]+\$" 5
check "B sees A's cluster.register name echo in etcd" $?
wait_log "$WORK/B.log" "CALLNAME A ok A byname\$" 5
check "B calls echo at the address etcd gave" $? "$(grep CALL "$WORK/B.log")"
lease_A=$(etcd_range "${PREFIX}nodes/A" | python3 -c 'import json,sys; print(json.load(sys.stdin)["kvs"][0].get("lease","0"))')
check "A's key is under a lease" "$([ "${lease_A:-0}" != 0 ]; echo $?)" "lease=$lease_A"

# 2. A dies; its lease expires and B drops it.
{ kill -9 "$pid_A"; wait "$pid_A"; } 2>/dev/null
t0=$SECONDS
wait_log "$WORK/B.log" "LEAVE A\$" $((TTL + 5))
check "A killed: its lease expires and B drops it" $? "$(tail -5 "$WORK/B.log")"
check "  within TTL + 5 s ($((SECONDS - t0)) s)" "$([ $((SECONDS - t0)) -le $((TTL + 5)) ]; echo $?)"
wait_log "$WORK/B.log" "UNNAME A echo" 2
check "A's echo name goes with it" $?
wait_log "$WORK/B.log" "CALLFAIL A [0-9]+ .*\[A\]" 3
check "a call to A then fails with an error naming A" $? "$(grep CALL "$WORK/B.log")"
cs=$(grep -oE "CALLFAIL A [0-9]+" "$WORK/B.log" | head -1 | awk '{print $3}')
check "  at once, not after the call timeout (${cs:-?} cs)" "$([ "${cs:-999}" -lt 100 ]; echo $?)"

# 3. etcd restarted under B (same data dir).
{ kill -9 "$etcd_pid"; wait "$etcd_pid"; } 2>/dev/null
etcd_pid=""
wait_log "$WORK/B.log" "cluster_registry: watch failing" 5
check "B notices that etcd is gone" $?
sleep 1
start_etcd
wait_log "$WORK/B.log" "cluster_registry: watch recovered" 10
check "B watches again after etcd restarted" $? "$(grep cluster_registry "$WORK/B.log")"
start_node C "$EP"
wait_log "$WORK/B.log" "JOIN C 127.0.0.1:$port_C\$" 10
check "B finds C, started after the restart" $?
wait_log "$WORK/C.log" "JOIN B 127.0.0.1:$port_B\$" 10
check "C finds B, registered before the restart" $?
wait_log "$WORK/B.log" "CALL C ok C ping\$" 5
check "B calls C" $?
wait_log "$WORK/C.log" "CALL B ok B ping\$" 5
check "C calls B" $?
n=$(grep -c "cluster_registry: watch failing" "$WORK/B.log")
check "the outage is logged once ($n)" "$([ "$n" = 1 ]; echo $?)"

# 4. B's lease revoked behind its back: B grants a new one, puts its keys back.
lease_B=$(etcd_range "${PREFIX}nodes/B" | python3 -c 'import json,sys; print(json.load(sys.stdin)["kvs"][0]["lease"])')
curl -s --noproxy '*' -X POST "http://127.0.0.1:$CLIENT/v3/lease/revoke" -d "{\"ID\":\"$lease_B\"}" >/dev/null
wait_log "$WORK/C.log" "LEAVE B\$" 5
check "B's lease revoked: C sees B leave" $?
wait_log "$WORK/C.log" "CALLFAIL B [0-9]+ .*\[B\]" 3
check "  and a call to B fails, naming B" $?
wait_log "$WORK/C.log" "UNNAME B echo" 5
check "  and its name" $?
t0=$SECONDS
for _ in $(seq 50); do
  [ "$(grep -c "JOIN B " "$WORK/C.log")" -ge 2 ] && break
  sleep 0.1
done
check "B re-registers under a new lease and C sees it back" "$([ "$(grep -c "JOIN B " "$WORK/C.log")" -ge 2 ]; echo $?)"
new_lease=$(etcd_range "${PREFIX}nodes/B" | python3 -c 'import json,sys; print(json.load(sys.stdin)["kvs"][0]["lease"])')
check "  the lease is new" "$([ "$new_lease" != "$lease_B" ]; echo $?)"
wait_log "$WORK/C.log" "NAME B echo [0-9]+\$" 5
check "  and B's echo name is back" "$([ "$(grep -cE "NAME B echo [0-9]+\$" "$WORK/C.log")" -ge 2 ]; echo $?)"
for _ in $(seq 30); do
  [ "$(grep -c "CALL B ok B ping" "$WORK/C.log")" -ge 2 ] && break
  sleep 0.1
done
check "  and C calls B again" "$([ "$(grep -c "CALL B ok B ping" "$WORK/C.log")" -ge 2 ]; echo $?)"

# B and C stop cleanly (SIGTERM), with nothing from the sanitizers (asan builds).
for n in B C; do
  eval "p=\$pid_$n"
  kill -0 "$p" 2>/dev/null
  check "node $n still runs" $?
  kill -TERM "$p" 2>/dev/null
done
for n in B C; do
  eval "p=\$pid_$n"
  wait "$p"
  check "node $n exits with status 0" $?
  ! grep -q "Sanitizer" "$WORK/$n.err"
  check "node $n: no sanitizer report" $? "$(head -30 "$WORK/$n.err")"
done
if [ $failed != 0 ]; then
  for n in A B C; do echo "--- $n.log"; tail -30 "$WORK/$n.log"; echo "--- $n.err"; tail -10 "$WORK/$n.err"; done
  echo "--- etcd.log"; tail -10 "$WORK/etcd.log"
fi
exit $failed
