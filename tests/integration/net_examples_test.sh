#!/usr/bin/env bash
# The debug console and the chat example, end to end through real TCP clients.
# Args: path to tern. Run from the project root (ctest does).
set -u
TERN=$1
WORK=$(mktemp -d /tmp/tern-net-XXXXXX)
node_pid=""
cleanup() {
  [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
fail=0
source "$(dirname "$0")/net_lib.sh"  # free_port, wait_port, console

chat_port=$(free_port)
console_port=$(free_port)
sed -e "s/^chat_port = .*/chat_port = $chat_port/" -e "s/^console_port = .*/console_port = $console_port/" \
  examples/chat/config >"$WORK/config"
echo "logger = \"$WORK/node.log\"" >>"$WORK/config"
"$TERN" "$WORK/config" &
node_pid=$!
wait_port "$console_port"; check "debug console listens" $?
wait_port "$chat_port"; check "chat gate listens" $?

out=$(console "$console_port" help)
grep -q "Welcome to skynet console" <<<"$out" && grep -q "<CMD OK>" <<<"$out" && grep -q "^netstat" <<<"$out"
check "console: welcome line, help" $?

out=$(console "$console_port" list)
grep -q "snlua debug_console" <<<"$out" && grep -q "snlua chat_room" <<<"$out"
check "console: list shows the services" $?

out=$(console "$console_port" mem stat gc)
[ "$(grep -c '<CMD OK>' <<<"$out")" -eq 3 ]; check "console: mem, stat, gc" $?

out=$(console "$console_port" "nosuchcommand")
grep -q "Invalid command, type help for command list" <<<"$out"; check "console: unknown command" $?

out=$(console "$console_port" "info zz")
grep -q "<CMD Error>" <<<"$out"; check "console: bad address is an error" $?

room=$(console "$console_port" list | grep "chat_room" | cut -f1)
out=$(console "$console_port" "ping $room")
grep -q "<CMD OK>" <<<"$out"; check "console: ping $room" $?

out=$(console "$console_port" netstat)
grep -q "127.0.0.1:$chat_port" <<<"$out" && grep -q "<CMD OK>" <<<"$out"; check "console: netstat lists the listeners" $?

out=$(console "$console_port" "GET /list HTTP/1.1" "")
grep -q "HTTP/1.1 200 OK" <<<"$out" && grep -q "snlua chat_room" <<<"$out"; check "console: HTTP GET /list" $?

# Two chat clients: the second one's line reaches the first.
python3 examples/chat/client.py "$chat_port" --say "/nick alice" >"$WORK/alice.out" & alice_pid=$!
sleep 0.3
out=$(python3 examples/chat/client.py "$chat_port" --say "hello from bob")
grep -q "hello from bob" <<<"$out"; check "chat: a client hears its own line" $?
wait $alice_pid
grep -q "welcome guest" "$WORK/alice.out" && grep -q "is now alice" "$WORK/alice.out"; check "chat: welcome and /nick ($(tr "\n" "|" <"$WORK/alice.out"))" $?

# A length prefix over the gate's limit closes only that connection.
python3 - "$chat_port" <<'PY'
import socket, struct, sys, time
port = int(sys.argv[1])
bad = socket.create_connection(("127.0.0.1", port))
good = socket.create_connection(("127.0.0.1", port))
bad.sendall(struct.pack(">H", 65535) + b"x" * 100)  # never completes: closed by the client below
time.sleep(0.2)
good.sendall(struct.pack(">H", 4) + b"/who")
good.settimeout(2)
data = b""
while b"in the room" not in data:
    data += good.recv(4096)
bad.close()
PY
check "chat: a half-sent packet on one connection does not stall another" $?

kill -TERM "$node_pid"; wait "$node_pid"; rc=$?; node_pid=""
check "SIGTERM stops the node (exit $rc)" $rc
[ $fail -eq 0 ] || { echo "--- node log"; cat "$WORK/node.log"; }
exit $fail
