#!/usr/bin/env bash
# Self-test of bench/tern_load_client against a python3 asyncio echo server:
# a framed (--header 2) run gives one sane JSON line; a corrupting server, a
# server that hangs up, and a port nobody listens on all give exit status 1.
# Arg: path to tern_load_client.
set -u
CLIENT=$1
WORK=$(mktemp -d /tmp/tern-load-client-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
fail=0
check() {  # check NAME CONDITION-EXIT-CODE
  if [ "$2" -eq 0 ]; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi
}

cat >"$WORK/echo.py" <<'PY'
# echo.py PORTFILE [echo|corrupt|close|ws|wscorrupt]: echoes bytes as they
# come (so any framing round-trips), or (ws*) upgrades to WebSocket and echoes
# each masked client frame unmasked; binds a free port on 127.0.0.1 and writes
# it to PORTFILE.
import asyncio, base64, hashlib, os, struct, sys
portfile, mode = sys.argv[1], sys.argv[2]
async def handle_ws(r, w):
    head = (await r.readuntil(b"\r\n\r\n")).decode()
    key = next(l.split(":", 1)[1].strip() for l in head.split("\r\n") if l.lower().startswith("sec-websocket-key:"))
    accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
    w.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
    n = 0
    try:
        while True:
            b0, b1 = await r.readexactly(2)
            size = b1 & 0x7F
            if size == 126:
                size = struct.unpack("!H", await r.readexactly(2))[0]
            elif size == 127:
                size = struct.unpack("!Q", await r.readexactly(8))[0]
            if not b1 & 0x80 or b0 != 0x81:
                break  # clients must mask; only final text frames are expected
            mask = await r.readexactly(4)
            data = bytearray(await r.readexactly(size))
            for i in range(size):
                data[i] ^= mask[i % 4]
            n += 1
            if mode == "wscorrupt" and n == 200:
                data[-1] ^= 0x01
            hdr = bytes([0x81]) + (bytes([size]) if size < 126 else bytes([126]) + struct.pack("!H", size))
            w.write(hdr + bytes(data))
            await w.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        w.close()
async def handle(r, w):
    if mode.startswith("ws"):
        return await handle_ws(r, w)
    n = 0
    try:
        while data := await r.read(65536):
            n += 1
            if mode == "corrupt" and n == 200:
                data = data[:-1] + bytes([data[-1] ^ 0x55])
            if mode == "close" and n == 200:
                break
            w.write(data)
            await w.drain()
    except ConnectionError:
        pass
    finally:
        w.close()
async def main():
    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(srv.sockets[0].getsockname()[1]))
    os.rename(portfile + ".tmp", portfile)
    async with srv:
        await srv.serve_forever()
asyncio.run(main())
PY

start_server() {  # start_server MODE: sets PORT and SERVER
  python3 "$WORK/echo.py" "$WORK/port.$1" "$1" &
  SERVER=$!
  pids+=("$SERVER")
  for _ in $(seq 100); do [ -s "$WORK/port.$1" ] && break; sleep 0.05; done
  PORT=$(cat "$WORK/port.$1")
}

# 1. A framed 1 s run: one JSON line with messages, latencies and the server's CPU.
start_server echo
out=$("$CLIENT" --port "$PORT" --connections 8 --size 64 --window 2 --header 2 --duration 1 \
  --warmup 0.2 --server-pid "$SERVER" --bench net.echo_selftest --impl python 2>"$WORK/err"); rc=$?
python3 - "$out" <<'PY'
import json, sys
lines = sys.argv[1].splitlines()
assert len(lines) == 1, lines
r = json.loads(lines[0])
assert r["bench"] == "net.echo_selftest" and r["impl"] == "python" and r["unit"] == "msgs/s", r
assert r["messages"] > 100 and r["value"] > 100 and r["errors"] == 0, r
assert 0 < r["p50_us"] <= r["p99_us"], r
assert r["server_cpu_us_per_msg"] is not None and r["client_cpu_us_per_msg"] > 0, r
assert (r["connections"], r["size"], r["window"]) == (8, 64, 2), r
PY
check "framed run prints one sane JSON line, exit 0 (rc $rc: $out $(cat "$WORK/err"))" $(( rc | $? ))

# 2. A server that flips a byte: mismatch reported, exit 1.
start_server corrupt
out=$("$CLIENT" --port "$PORT" --connections 2 --header 4 --duration 2 --warmup 0 2>"$WORK/err"); rc=$?
[ $rc -eq 1 ] && grep -q "data mismatch" "$WORK/err" && grep -q '"errors": [1-9]' <<<"$out"
check "data mismatch: exit 1 (rc $rc: $(cat "$WORK/err"))" $?

# 3. A server that hangs up mid-run: exit 1.
start_server close
"$CLIENT" --port "$PORT" --connections 2 --duration 2 --warmup 0 >/dev/null 2>"$WORK/err"; rc=$?
[ $rc -eq 1 ] && grep -q "closed by the server" "$WORK/err"
check "connection closed by the server: exit 1 (rc $rc: $(cat "$WORK/err"))" $?

# 5. WebSocket: handshake, masked text frames echoed; then a corrupted echo is caught.
start_server ws
out=$("$CLIENT" --port "$PORT" --websocket /echo --connections 4 --size 16 --window 1 --duration 1 \
  --warmup 0.2 --server-pid "$SERVER" --bench http.ws_selftest --impl python 2>"$WORK/err"); rc=$?
python3 - "$out" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
assert r["messages"] > 100 and r["errors"] == 0 and 0 < r["p50_us"] <= r["p99_us"], r
PY
check "websocket run: one sane JSON line, exit 0 (rc $rc: $out $(cat "$WORK/err"))" $(( rc | $? ))
start_server wscorrupt
out=$("$CLIENT" --port "$PORT" --websocket /echo --connections 2 --size 40 --duration 2 --warmup 0 2>"$WORK/err"); rc=$?
[ $rc -eq 1 ] && grep -q "data mismatch.*payload byte 39" "$WORK/err"
check "websocket data mismatch: exit 1 (rc $rc: $(cat "$WORK/err"))" $?

# 4. Nobody listening: gives up after 5 s with exit 1.
FREE=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$CLIENT" --port "$FREE" --connections 2 --duration 1 >/dev/null 2>"$WORK/err"; rc=$?
[ $rc -eq 1 ] && grep -q "could not connect" "$WORK/err"
check "no server: exit 1 (rc $rc: $(cat "$WORK/err"))" $?

exit $fail
