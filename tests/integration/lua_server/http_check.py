#!/usr/bin/env python3
"""Checks tests/integration/lua_server/http_app.lua over HTTP (and WebSocket).

usage: http_check.py PORT KIND   (KIND: http or websocket)
Prints "ok   ..." / "FAIL ..." per check; exit status 1 if any failed.
Standard library only: http.client for HTTP, a raw-socket WebSocket client.
"""
import base64
import hashlib
import http.client
import os
import socket
import struct
import sys
import time

port, kind = int(sys.argv[1]), sys.argv[2]
failed = 0


def check(name, cond, detail=""):
    global failed
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else f"  [{detail}]"))
    if not cond:
        failed += 1


def wait_port():
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit("server did not come up")


def get(conn, path, method="GET", body=None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    return r, r.read().decode()


wait_port()
c = http.client.HTTPConnection("127.0.0.1", port, timeout=3)

r, body = get(c, "/hello?a=1&b=x%20y")
check("GET with a query: status 200", r.status == 200, r.status)
check("GET: req.get decoded, post/cookie/files nil when absent",
      body.startswith("get a=1 b=x y | post nil | cookie nil | files nil | GET /hello fd="), body)
check("GET: the handler's Content-Type", r.getheader("Content-Type") == "text/plain", r.getheaders())
fd1 = body.rsplit("fd=", 1)[-1]

r, body = get(c, "/form", "POST", "x=1&y=two%21",
              {"Content-Type": "application/x-www-form-urlencoded"})
check("POST form: req.post and rawContent()", body == "post x=1 y=two! | raw x=1&y=two%21", body)

r, body = get(c, "/hello")
check("keep-alive: the same connection (req.fd) serves a third request",
      body.endswith("fd=" + fd1) and r.getheader("Connection", "").lower() != "close", body)

r, body = get(c, "/cookie", headers={"Cookie": "sid=abc; theme=dark"})
setc = r.getheader("Set-Cookie", "")
check("req.cookie parsed", body == "cookie sid=abc theme=dark", body)
check("resp:cookie: Set-Cookie with path, HttpOnly, SameSite",
      setc.startswith("seen=yes") and "path=/" in setc.lower() and "httponly" in setc.lower()
      and "samesite=lax" in setc.lower(), setc)

r, body = get(c, "/stream")
check("write() x2 + end(): chunked, in order",
      body == "one,two,three" and r.getheader("Transfer-Encoding") == "chunked", (body, r.getheaders()))

r, body = get(c, "/nowhere")
check("resp:status(404)", r.status == 404 and body == "no route /nowhere", (r.status, body))

r, body = get(c, "/redirect")
check("resp:redirect(url, 301)", r.status == 301 and r.getheader("Location") == "/hello", (r.status, r.getheaders()))

r, body = get(c, "/ended")
check("after end(): write and isWritable are false", body == "first", body)
r, body = get(c, "/hello")
check("... and the connection goes on", r.status == 200, r.status)

t0 = time.time()
r, body = get(c, "/later")
dt = time.time() - t0
check("a response kept by Lua is ended later by an after() timer",
      r.status == 200 and body.startswith("late true timer ") and dt >= 0.09, (r.status, body, dt))

r, body = get(c, "/drop")
check("a response neither ended nor kept: 500 once collected", r.status == 500, (r.status, body))
c.close()
c = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
r, body = get(c, "/boom")
check("a handler that raises: 500", r.status == 500, (r.status, body))
c.close()

time.sleep(0.15)  # the tick timers (20 ms) have run 3 times and cleared themselves
for _ in range(2):  # new connections: either worker
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
    r, body = get(c, "/ticks")
    check("tick() runs until clearTimer() from inside it", body == "ticks 3", body)
    c.close()

# Two pipelined requests on a raw socket: answered in order.
s = socket.create_connection(("127.0.0.1", port), 3)
s.sendall(b"GET /hello?n=1 HTTP/1.1\r\nHost: x\r\n\r\nGET /hello?n=2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
s.close()
text = data.decode(errors="replace")
check("pipelined requests answered in order, then closed (Connection: close)",
      text.count("HTTP/1.1 200") == 2 and text.index("get n=1") < text.index("get n=2"), text[:300])


# ------------------------------------------------------------------ WebSocket
class WS:
    def __init__(self, path):
        self.s = socket.create_connection(("127.0.0.1", port), 3)
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall((f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.s.recv(4096)
            if not chunk:
                break
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        self.head = head.decode(errors="replace")
        want = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
        self.accepted = self.head.startswith("HTTP/1.1 101") and ("Sec-WebSocket-Accept: " + want.decode()) in self.head

    def send(self, payload, opcode=1):
        mask = os.urandom(4)
        n = len(payload)
        hdr = bytes([0x80 | opcode])
        if n < 126:
            hdr += bytes([0x80 | n])
        elif n < 65536:
            hdr += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            hdr += bytes([0x80 | 127]) + struct.pack("!Q", n)
        self.s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def need(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self):
        b0, b1 = self.need(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self.need(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self.need(8))[0]
        if b1 & 0x80:
            raise ValueError("a server frame must not be masked")
        return b0 & 0x0F, bool(b0 & 0x80), self.need(n)


if kind == "websocket":
    w = WS("/chat")
    check("HandShake callback accepts with 101 and the right Sec-WebSocket-Accept", w.accepted, w.head)
    check("Open: push from the server", w.recv() == (1, True, b"welcome /chat"))
    w.send(b"hello")
    check("Message: text echo", w.recv() == (1, True, b"hello"))
    w.send(bytes(range(256)) * 2, opcode=2)
    check("Message: binary echo (opcode kept, 512 bytes)", w.recv() == (2, True, bytes(range(256)) * 2))
    w.send(b"established?")
    check("isEstablished(fd) true, unknown fd false", w.recv() == (1, True, b"true false"))
    w.send(b"close me")
    op, fin, payload = w.recv()
    check("disconnect(fd, 4000, reason): close frame with the code and reason",
          op == 8 and payload[:2] == struct.pack("!H", 4000) and payload[2:] == b"bye", (op, payload))
    w.s.settimeout(2)
    try:
        rest = w.s.recv(100)
    except OSError:
        rest = b"?"
    check("... then the connection is closed", rest == b"", rest)
    w.s.close()

    w = WS("/deny")
    check("HandShake returning false: 403, no upgrade", w.head.startswith("HTTP/1.1 403"), w.head)
    w.s.close()

sys.exit(1 if failed else 0)
