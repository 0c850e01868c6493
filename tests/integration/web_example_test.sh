#!/usr/bin/env bash
# examples/web end to end: the node started as a process, driven by python3
# clients over TCP: GET /, /echo with a query and a header, POST /post (plain
# and chunked), keep-alive (two requests on one connection), 404, a body over
# the limit (413), and the WebSocket echo at /ws.
# Args: path to tern. Run from the project root (ctest does).
set -u
TERN=$1
WORK=$(mktemp -d /tmp/tern-web-XXXXXX)
node_pid=""
cleanup() {
  [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
source "$(dirname "$0")/net_lib.sh"  # free_port, wait_port

port=$(free_port)
sed -e "s/^web_port = .*/web_port = $port/" examples/web/config >"$WORK/config"
echo "logger = \"$WORK/node.log\"" >>"$WORK/config"
"$TERN" "$WORK/config" &
node_pid=$!
if ! wait_port "$port"; then
  echo "FAIL the web example does not listen"; cat "$WORK/node.log"; exit 1
fi

python3 - "$port" <<'PY'
import base64, hashlib, http.client, os, socket, struct, sys
port = int(sys.argv[1])
failed = False

def check(name, cond, detail=""):
    global failed
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else ": " + str(detail)))
    failed |= not cond

conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
conn.request("GET", "/")
r = conn.getresponse(); body = r.read()
check("GET / greets", r.status == 200 and body == b"Hello from tern!\n", (r.status, body))
check("GET /: Content-Type", r.getheader("content-type") == "text/plain")
# the same connection again: keep-alive
conn.request("GET", "/echo?x=1&name=a%20b", headers={"X-Test": "abc"})
r = conn.getresponse(); body = r.read().decode()
check("keep-alive: a second request on the connection", r.status == 200, r.status)
check("/echo: the query", "  x=1\n" in body and "  name=a b\n" in body, body)
check("/echo: the headers", "  x-test: abc\n" in body, body)
conn.request("POST", "/post", body=b"some bytes", headers={"Content-Type": "application/x-test"})
r = conn.getresponse(); body = r.read()
check("POST /post echoes the body", r.status == 200 and body == b"some bytes", (r.status, body))
check("POST /post: its Content-Type", r.getheader("content-type") == "application/x-test")
conn.request("POST", "/post", body=iter([b"chunk one, ", b"chunk two"]), encode_chunked=True,
             headers={"Transfer-Encoding": "chunked"})
r = conn.getresponse(); body = r.read()
check("POST /post chunked", body == b"chunk one, chunk two", body)
conn.request("GET", "/missing")
r = conn.getresponse(); r.read()
check("404", r.status == 404, r.status)
conn.close()
# a Content-Length over the agent's limit: 413 before the body is sent
s = socket.create_connection(("127.0.0.1", port), 5)
s.sendall(b"POST /post HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n")
data = s.recv(4096)
check("a body over the limit: 413", data.startswith(b"HTTP/1.1 413 "), data)
s.close()

# WebSocket echo at /ws: the handshake, a masked text and a masked binary frame
s = socket.create_connection(("127.0.0.1", port), 5)
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n\r\n" % key).encode())
data = b""
while b"\r\n\r\n" not in data:
    chunk = s.recv(4096)
    if not chunk: break
    data += chunk
head, _, rest = data.partition(b"\r\n\r\n")
accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
check("ws: 101", head.startswith(b"HTTP/1.1 101 "), head)
check("ws: Sec-WebSocket-Accept", b"Sec-WebSocket-Accept: " + accept in head, head)

def send_frame(op, payload):
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    s.sendall(struct.pack("!BB", 0x80 | op, 0x80 | len(payload)) + mask + masked)

def recv_frame():
    global rest
    while len(rest) < 2:
        rest += s.recv(4096)
    op, n = rest[0] & 0x0F, rest[1] & 0x7F
    while len(rest) < 2 + n:
        rest += s.recv(4096)
    payload, rest = rest[2:2 + n], rest[2 + n:]
    return op, payload

send_frame(1, "héllo".encode())
check("ws: text echo", recv_frame() == (1, "héllo".encode()))
send_frame(2, b"\x00\x01\xff")
check("ws: binary echo", recv_frame() == (2, b"\x00\x01\xff"))
send_frame(8, struct.pack("!H", 1000) + b"done")
op, payload = recv_frame()
check("ws: close answered", op == 8 and payload[:2] == struct.pack("!H", 1000), (op, payload))
s.close()
sys.exit(1 if failed else 0)
PY
rc=$?
kill -TERM "$node_pid"; wait "$node_pid"; stop=$?; node_pid=""
[ $stop -eq 0 ] || { echo "FAIL SIGTERM: exit $stop"; rc=1; }
[ $rc -eq 0 ] || { echo "--- node log"; cat "$WORK/node.log"; }
exit $rc
