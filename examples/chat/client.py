#!/usr/bin/env python3
"""Chat client for examples/chat: python3 examples/chat/client.py [PORT [HOST]].

Packets are a 2-byte big-endian length and the text. Lines typed on stdin are
sent; everything the server sends is printed. With --say TEXT it sends TEXT,
prints what arrives for a moment, and exits (used by the tests)."""
import select
import socket
import struct
import sys


def main():
    argv = sys.argv[1:]
    say = None
    if "--say" in argv:
        i = argv.index("--say")
        say = argv[i + 1]
        del argv[i:i + 2]
    port = int(argv[0]) if argv else 8888
    host = argv[1] if len(argv) > 1 else "127.0.0.1"
    sock = socket.create_connection((host, port))
    buf = b""
    seen = []

    def send(text):
        data = text.encode()
        sock.sendall(struct.pack(">H", len(data)) + data)

    def pump(timeout):
        nonlocal buf
        watch = [sock] if say is not None else [sock, sys.stdin]
        ready, _, _ = select.select(watch, [], [], timeout)
        if sys.stdin in ready:
            line = sys.stdin.readline()
            if not line:
                return False
            send(line.rstrip("\n"))
        if sock in ready:
            chunk = sock.recv(65536)
            if not chunk:
                print("(server closed the connection)")
                return False
            buf += chunk
            while len(buf) >= 2:
                (n,) = struct.unpack(">H", buf[:2])
                if len(buf) < 2 + n:
                    break
                print(buf[2:2 + n].decode(errors="replace"), flush=True)
                seen.append(n)
                buf = buf[2 + n:]
        return True

    if say is not None:
        # Wait for the welcome: until the agent has the connection, the gate
        # hands packets to the watchdog, which drops them.
        for _ in range(50):
            pump(0.1)
            if seen:
                break
        send(say)
        for _ in range(5):
            if not pump(0.2):
                break
        return
    while pump(None):
        pass


if __name__ == "__main__":
    main()
