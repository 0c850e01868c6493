#!/usr/bin/env bash
# skynet's cluster on tern, end to end: three nodes (processes) on 127.0.0.1
# calling each other (tests/integration/cluster/*.lua): call by handle, @name
# and .name, send, query, register/unregister and the registered list, proxy,
# nested calls across three nodes, live map reloads (down, back, moved, a call
# in flight when its node moves, an absent node that appears, __nowaiting,
# replace, a bad map), order of 1,000 sends, 1,000 concurrent calls, 10 MiB
# messages both ways, cluster_max_message.
# Args: path to tern. Run from the project root (ctest does).
set -u
TERN=$1
WORK=$(mktemp -d /tmp/tern-cluster-XXXXXX)
MAP=$WORK/clustermap.lua
source "$(dirname "$0")/net_lib.sh"          # free_port
source "$(dirname "$0")/cluster/lib.sh"      # start_node, drive, check, ...
cleanup() {
  stop_all
  if [ "$fail" -ne 0 ]; then
    for f in "$WORK"/*.log; do echo "--- $f"; tail -n 40 "$f"; done
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

cat >"$MAP" <<MAP
-- node name = "host:port" (skynet's cluster file)
a = "127.0.0.1:$(free_port)"
b = "127.0.0.1:$(free_port)"
c = "127.0.0.1:$(free_port)"
MAP

start_node a; rc=$?; check "node a up ($(lap))" $rc
start_node b; rc=$?; check "node b up ($(lap))" $rc
start_node c 'cluster_max_message = 1048576'; rc=$?; check "node c up, cluster_max_message 1 MiB ($(lap))" $rc

step() {  # step NODE 'driver args' DESCRIPTION [SECONDS]
  local out
  out=$(drive "$1" "$2" "${4:-30}")
  rc=$?; check "$3: $out ($(lap))" $rc
}

step a '"basic", "b"' "a -> b: call by handle, @name, .name; send then call; query"
step b '"basic", "a"' "b -> a: the same the other way"
step c '"basic", "a"' "c -> a"
step a '"errors", "b"' "errors come back naming the node; the link survives them"
step a '"proxy", "b"' "cluster.proxy: call and send through a local stand-in"
step a '"relay", "c", "b"' "three nodes: a -> c -> b"
step b '"relay", "a", "c"' "three nodes: b -> a -> c"
step a '"names", "b"' "register / query / unregister on b, seen from a"
step a '"watch_names"' "registered(since) waits for the next change"
step a '"reload", "b", "c"' "reload: down, back, moved, call in flight moved, absent then present, nowaiting, replace, bad map"
step a '"basic", "b"' "a -> b still fine after the reloads"
step a '"order", "b"' "1,000 sends arrive in order; a fresh service's first requests keep their order"
step a '"concurrent", "b", 1000' "1,000 concurrent calls a -> b" 60
step c '"concurrent", "a", 1000' "1,000 concurrent calls c -> a" 60
step a '"big", "b"' "10 MiB a -> b -> a and b -> a -> b, bytes checked" 60
step c '"limit", "a"' "c's 1 MiB limit: a larger request or push is refused before it leaves" 60
step a '"limit_reply", "c"' "c's 1 MiB limit: a larger reply becomes an error" 60

grep -q "cluster: dropped peer" "$WORK"/*.log
[ $? -ne 0 ]; rc=$?; check "no peer was dropped in the normal runs" $rc

stop_all
check_sanitizers
[ "$fail" -eq 0 ] && echo "PASS cluster"
exit $fail
