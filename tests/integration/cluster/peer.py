"""A raw cluster peer for tests/integration/cluster_faults_test.sh: speaks
tern's cluster wire format (docs/cluster.md) by hand, well or badly.

  peer.py PORT MODE
  modes: garbage, truncated, oversized, toolarge, badkind, silent, call
"""
import os, socket, struct, sys, time

port, mode = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), 5)
s.settimeout(10)


def recvn(n):
    b = b""
    while len(b) < n:
        d = s.recv(n - len(b))
        if not d:
            raise EOFError("closed after %d of %d bytes" % (len(b), n))
        b += d
    return b


def frame(kind, session, body):
    return struct.pack(">IBI", 5 + len(body), kind, session) + body


def read_frame():
    length, kind, session = struct.unpack(">IBI", recvn(9))
    return kind, session, recvn(length - 5)


def closed_by_peer(limit=10):
    """True when the node closes the connection (EOF or reset) within limit s."""
    s.settimeout(limit)
    try:
        while s.recv(65536):
            pass
        return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def join():
    kind, _, body = read_frame()
    assert kind == 0x10 and body[:4] == b"TRNC", (kind, body[:4])
    assert body[4] == 1 and body[5] == 0, "version 1, no secret"
    name = b"peer.py"
    s.sendall(frame(0x11, 0, b"TRNC\x01\x00" + os.urandom(32) + bytes([len(name)]) + name))
    kind, _, body = read_frame()
    assert kind == 0x12 and body == b"\x00", (kind, body)


if mode == "garbage":
    read_frame()  # HELLO
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    ok = closed_by_peer()
elif mode == "truncated":
    join()
    # A CALL frame that says 100 bytes follow; 10 are sent, then we close.
    s.sendall(struct.pack(">IBI", 100, 0x01, 1) + b"\x00" * 10)
    time.sleep(0.2)
    ok = True
elif mode == "oversized":
    join()
    s.sendall(struct.pack(">I", 0x7FFFFFFF) + b"\x01")
    ok = closed_by_peer()
elif mode == "toolarge":
    join()
    # A CALL to handle 1 announcing a 1 GiB message, first chunk full.
    body = b"\x00" + struct.pack(">I", 1) + struct.pack(">I", 1 << 30) + b"x" * 65536
    s.sendall(frame(0x01, 7, body))
    ok = closed_by_peer()
elif mode == "badkind":
    join()
    s.sendall(frame(0x10, 0, b"TRNC"))  # a HELLO to a server, after the handshake
    ok = closed_by_peer()
elif mode == "silent":
    ok = closed_by_peer(15)  # the node gives up on a peer that never joins
elif mode == "call":
    join()
    # CALL "@echo" with skynet.pack("whoami") (a short string: 0x04 | len << 3).
    name = b"@echo"
    payload = bytes([4 | 6 << 3]) + b"whoami"
    body = b"\x01" + bytes([len(name)]) + name + struct.pack(">I", len(payload)) + payload
    s.sendall(frame(0x01, 5, body))
    kind, session, body = read_frame()
    total = struct.unpack(">I", body[:4])[0]
    answer = body[4:]
    ok = kind == 0x03 and session == 5 and total == len(answer) and answer == bytes([4 | 1 << 3]) + b"b"
    if not ok:
        print("reply:", kind, session, body)
else:
    sys.exit("unknown mode " + mode)
sys.exit(0 if ok else 1)
