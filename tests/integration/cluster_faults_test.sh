#!/usr/bin/env bash
# The cluster under faults, end to end (tests/integration/cluster/*): a node
# killed with kill -9 in the middle of a call (the caller fails at once, naming
# the node), calls while it is gone, the node restarted (calls succeed again),
# a node that stops answering but keeps its socket (SIGSTOP: the call's timeout
# fires), hostile peers on the cluster port (garbage, a truncated frame then
# close, an oversized length, a message over the limit, a bad frame kind, a
# peer that never joins: each logged and dropped while the node keeps serving
# another node), a raw peer speaking the documented wire format, and the
# cluster secret (match works, mismatch and one-sided secrets are refused, the
# secret never crosses the wire).
# Args: path to tern. Run from the project root (ctest does).
set -u
TERN=$1
WORK=$(mktemp -d /tmp/tern-clfaults-XXXXXX)
MAP=$WORK/clustermap.lua
source "$(dirname "$0")/net_lib.sh"          # free_port
source "$(dirname "$0")/cluster/lib.sh"      # start_node, drive, check, ...
bg_pids=()
cleanup() {
  for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  stop_all
  if [ "$fail" -ne 0 ]; then
    for f in "$WORK"/*.log; do echo "--- $f"; tail -n 40 "$f"; done
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
now_ms() { echo $(($(date +%s%N) / 1000000)); }

port_b=$(free_port)
port_s1=$(free_port)
relay_port=$(free_port)
cat >"$MAP" <<MAP
a = "127.0.0.1:$(free_port)"
b = "127.0.0.1:$port_b"
s1 = "127.0.0.1:$port_s1"
s2 = "127.0.0.1:$(free_port)"
s3 = "127.0.0.1:$(free_port)"
s1relay = "127.0.0.1:$relay_port"   -- s1 through a relay that records the bytes
MAP

start_node a; rc=$?; check "node a up ($(lap))" $rc
start_node b; rc=$?; check "node b up ($(lap))" $rc
out=$(drive a '"call", "b"'); rc=$?; check "a -> b: $out" $rc

# --- kill -9 in the middle of a call --------------------------------------------
drive a '"call_fails", "b", 1000, "sleep", 1000' 20 >"$WORK/kill.out" &
bg=$!
bg_pids+=("$bg")
wait_log "${NODE_LOG[b]}" "slow call started" 5
rc=$?; check "b is inside the slow call" $rc
t0=$(now_ms)
kill -KILL "${NODE_PID[b]}"
wait "${NODE_PID[b]}" 2>/dev/null
NODE_PID[b]=""
wait "$bg"
rc=$?
took=$(($(now_ms) - t0))
out=$(cat "$WORK/kill.out")
[ $rc -eq 0 ] && [[ "$out" == *"cluster node [b]"* ]] && [[ "$out" == *"link closed"* ]] && [ "$took" -lt 3000 ]
rc=$?; check "kill -9 b mid-call: the caller fails ${took} ms after the kill, naming the node: $out" $rc

out=$(drive a '"call_fails", "b", 300, "whoami"')
[ $? -eq 0 ] && [[ "$out" == *"cluster node [b]"* ]] && [[ "$out" == *"connect failed"* ]]
rc=$?; check "b gone: a call fails at once: $out" $rc

start_node b; rc=$?; check "b restarted on its port ($(lap))" $rc
out=$(drive a '"until_ok", "b", 500'); rc=$?; check "a reaches b again: $out" $rc
out=$(drive a '"basic", "b"'); rc=$?; check "a -> b works in full after the restart: $out" $rc

# --- a node that stops answering but keeps its socket ----------------------------
kill -STOP "${NODE_PID[b]}"
out=$(drive a '"call_fails", "b", 50, "whoami"')
rc=$?
kill -CONT "${NODE_PID[b]}"
ms=$(sed -n 's/^OK failed after \([0-9]*\) ms.*/\1/p' <<<"$out")
[ $rc -eq 0 ] && [[ "$out" == *"cluster node [b]"* ]] && [[ "$out" == *"call timeout after 50 cs"* ]] &&
  [ "${ms:-0}" -ge 450 ] && [ "${ms:-99999}" -lt 3000 ]
rc=$?; check "b stopped (SIGSTOP): the 50 cs timeout fires: $out" $rc
out=$(drive a '"call", "b"'); rc=$?; check "b continued: the same link answers again: $out" $rc

# --- hostile peers on b's cluster port while a keeps calling b --------------------
python3 "$HERE/peer.py" "$port_b" silent &
silent=$!
bg_pids+=("$silent")
drive a '"keep_calling", "b", 300' 30 >"$WORK/keep.out" &
keep=$!
bg_pids+=("$keep")
for mode in garbage truncated oversized toolarge badkind; do
  python3 "$HERE/peer.py" "$port_b" $mode
  rc=$?; check "hostile peer ($mode): b closes it" $rc
done
log=${NODE_LOG[b]}
wait_log "$log" "dropped peer .*: oversized frame: length 1195725856 is over the limit"
rc=$?; check "garbage: b logs why ($(grep -o 'dropped peer [^:]*:[0-9]*: oversized frame: length 1195725856[^)]*' "$log" | head -1))" $rc
wait_log "$log" "dropped peer .*peer.py.*: the link closed with a truncated frame \(19 bytes"
rc=$?; check "truncated frame then close: b logs it" $rc
wait_log "$log" "dropped peer .*: oversized frame: length 2147483647"
rc=$?; check "oversized length: b logs it" $rc
wait_log "$log" "dropped peer .*: message of 1073741824 bytes is over the limit of 67108864"
rc=$?; check "a message over the limit: b logs it" $rc
wait_log "$log" "dropped peer .*: unexpected frame kind 0x10"
rc=$?; check "a bad frame kind: b logs it" $rc
python3 "$HERE/peer.py" "$port_b" call
rc=$?; check "a raw peer (peer.py) joins and calls @echo with the documented frames" $rc
wait "$keep"; rc=$?
check "a kept calling b all along: $(cat "$WORK/keep.out")" $rc
wait "$silent"; rc=$?
check "a peer that never joins is dropped ($(grep -o 'no JOIN within 5 s' "$log" | head -1))" $rc
kill -0 "${NODE_PID[b]}"; rc=$?; check "b is still running" $rc
out=$(drive a '"basic", "b"'); rc=$?; check "a -> b in full after the hostile peers: $out" $rc

# --- the cluster secret ----------------------------------------------------------
start_node s1 'cluster_secret = "s3cret-1234"'; rc=$?; check "s1 up (secret s3cret-1234)" $rc
start_node s2 'cluster_secret = "s3cret-1234"'; rc=$?; check "s2 up (the same secret)" $rc
start_node s3 'cluster_secret = "other-5678"'; rc=$?; check "s3 up (another secret)" $rc
out=$(drive s2 '"basic", "s1"'); rc=$?; check "s2 -> s1 with the same secret: $out" $rc
out=$(drive s1 '"basic", "s2"'); rc=$?; check "s1 -> s2 with the same secret: $out" $rc
out=$(drive s3 '"call_fails", "s1", 300, "whoami"')
[ $? -eq 0 ] && [[ "$out" == *"cluster node [s1]"* ]] && [[ "$out" == *"refused: authentication failed"* ]]
rc=$?; check "s3 -> s1, secrets differ: refused: $out" $rc
wait_log "${NODE_LOG[s1]}" "dropped peer .*: refused: authentication failed"
rc=$?; check "s1 logs the refusal" $rc
out=$(drive a '"call_fails", "s1", 300, "whoami"')
[ $? -eq 0 ] && [[ "$out" == *"requires a cluster secret"* ]]
rc=$?; check "a (no secret) -> s1: refused: $out" $rc
out=$(drive s1 '"call_fails", "a", 300, "whoami"')
[ $? -eq 0 ] && [[ "$out" == *"has no cluster secret"* ]]
rc=$?; check "s1 -> a (no secret): refused: $out" $rc
python3 "$HERE/relay.py" "$relay_port" "$port_s1" "$WORK/wire.bin" "$WORK/relay.ready" &
bg_pids+=("$!")
for _ in $(seq 50); do [ -e "$WORK/relay.ready" ] && break; sleep 0.1; done
out=$(drive s2 '"call", "s1relay"')
[ $? -eq 0 ] && [[ "$out" == "OK s1" ]]
rc=$?; check "s2 -> s1 through a recording relay: $out" $rc
[ -s "$WORK/wire.bin" ] && ! grep -aq "s3cret" "$WORK/wire.bin"
rc=$?; check "the secret is not in the $(stat -c %s "$WORK/wire.bin" 2>/dev/null) bytes on the wire" $rc

for n in a b s1 s2 s3; do
  kill -0 "${NODE_PID[$n]}" 2>/dev/null || { echo "FAIL node $n died"; fail=1; }
done
stop_all
check_sanitizers
[ "$fail" -eq 0 ] && echo "PASS cluster_faults"
exit $fail
