#!/usr/bin/env bash
# Network faults end to end: a real node (tests/integration/net_faults/*.lua)
# and real TCP clients (python3). Gate packets over the limit, clients that
# vanish mid-packet, half-close, 1,000 clients at once, a 64 MiB write to a slow
# reader, a reader that never reads, descriptor exhaustion (a second node under
# `ulimit -n 64`), connecting to a closed port.
# Args: path to tern. Run from the project root (ctest does).
set -u
TERN=$1
HERE=tests/integration/net_faults
WORK=$(mktemp -d /tmp/tern-faults-XXXXXX)
node_pid=""
node2_pid=""
stop_node() {  # stop_node PID: SIGTERM, then SIGKILL after 5 s
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}
cleanup() {
  [ -n "$node_pid" ] && stop_node "$node_pid"
  [ -n "$node2_pid" ] && stop_node "$node2_pid"
  rm -rf "$WORK"
}
trap cleanup EXIT

# Checks that fail because of a known runtime bug (see the comment where each is
# used). They are run and reported ("KNOWN-FAIL"), but do not fail the test; one
# that passes is reported as "XPASS" (then remove it from this list).
KNOWN_FAILURES="${KNOWN_FAILURES-}"

fail=0
t_start=$(date +%s%N)
lap() {  # time since the start, "t+S.CC s"
  local now
  now=$(date +%s%N)
  printf 't+%d.%02d s' $(((now - t_start) / 1000000000)) $(((now - t_start) / 10000000 % 100))
}
source "$(dirname "$0")/net_lib.sh"  # free_port, wait_port, console (its check is replaced below)
check() {  # check NAME EXIT-CODE [KNOWN-FAILURE-TAG]
  local name=$1 rc=$2 tag=${3-}
  local known=0
  [ -n "$tag" ] && [[ " $KNOWN_FAILURES " == *" $tag "* ]] && known=1
  if [ "$rc" -eq 0 ]; then
    if [ $known -eq 1 ]; then echo "XPASS $name [$tag is listed in KNOWN_FAILURES]"; else echo "ok   $name"; fi
  elif [ $known -eq 1 ]; then
    echo "KNOWN-FAIL $name [$tag]"
  else
    echo "FAIL $name"
    fail=1
  fi
}
# watchdog_stat PORT FIELD: one counter of the watchdog (through the console).
watchdog_stat() {
  console "$1" 'call .watchdog "stats"' | grep -o "$2:[0-9-]*" | head -1 | cut -d: -f2
}
# make_config MODE LOG CONSOLE GATE ECHO > file
make_config() {
  sed -e "s|@MODE@|$1|" -e "s|@LOG@|$2|" -e "s|@CONSOLE_PORT@|$3|" -e "s|@GATE_PORT@|$4|" \
    -e "s|@ECHO_PORT@|$5|" "$HERE/config.in"
}

# 1,000 clients and the node need descriptors (the node inherits the limit).
if [ "$(ulimit -n)" -lt 4096 ]; then ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)"; fi

console_port=$(free_port)
gate_port=$(free_port)
echo_port=$(free_port)
closed_port=$(free_port)  # nobody listens there
LOG=$WORK/node.log
make_config full "$LOG" "$console_port" "$gate_port" "$echo_port" >"$WORK/config"
"$TERN" "$WORK/config" 2>"$WORK/node.stderr" &
node_pid=$!
wait_port "$console_port" && wait_port "$gate_port" && wait_port "$echo_port"
rc=$?; check "node up: console, gate, echo service listen ($(lap))" $rc

# --- 1. Gate: a length prefix over maxpacket (1024) closes only that connection.
python3 - "$gate_port" <<'PY'
import socket, struct, sys, time
port = int(sys.argv[1])
def recvn(s, n):
    b = b""
    while len(b) < n:
        d = s.recv(n - len(b))
        if not d:
            raise EOFError("closed after %d of %d bytes" % (len(b), n))
        b += d
    return b
def echo(s, text):
    s.sendall(struct.pack(">H", len(text)) + text)
    n = struct.unpack(">H", recvn(s, 2))[0]
    got = recvn(s, n)
    assert got == b"echo:" + text, got
good = socket.create_connection(("127.0.0.1", port), 2)
bad = socket.create_connection(("127.0.0.1", port), 2)
good.settimeout(2)
bad.settimeout(2)
echo(good, b"good before")
echo(bad, b"bad before")
bad.sendall(struct.pack(">H", 2000) + b"x" * 2000)
t0 = time.time()
try:
    while bad.recv(4096):
        pass
except ConnectionResetError:
    pass
closed_after = time.time() - t0
for i in range(20):
    echo(good, b"good after %d" % i)
print("gate: oversized connection closed after %.3f s, the other one echoed 20 more" % closed_after)
PY
check "gate: a packet over maxpacket closes that connection only; the other keeps echoing" $?
wait_log "$LOG" "watchdog: client fd [0-9]+ error: packet of 2000 bytes is larger than the limit of 1024"
rc=$?; check "gate: the log says why ($(grep -o 'error: packet of 2000.*' "$LOG" | head -1)) ($(lap))" $rc

# --- 2. Clients vanishing mid-packet (header says 100 bytes, 10 sent, closed).
for _ in $(seq 30); do [ "$(watchdog_stat "$console_port" agents)" = 0 ] && break; sleep 0.1; done
closes_before=$(watchdog_stat "$console_port" close)
python3 - "$gate_port" <<'PY'
import socket, struct, sys, time
port = int(sys.argv[1])
def recvn(s, n):
    b = b""
    while len(b) < n:
        d = s.recv(n - len(b))
        if not d:
            raise EOFError("closed after %d of %d bytes" % (len(b), n))
        b += d
    return b
def echo(s, text):
    s.sendall(struct.pack(">H", len(text)) + text)
    n = struct.unpack(">H", recvn(s, 2))[0]
    got = recvn(s, n)
    assert got == b"echo:" + text, got
good = socket.create_connection(("127.0.0.1", port), 2)
good.settimeout(2)
echo(good, b"good before")
for i in range(20):
    v = socket.create_connection(("127.0.0.1", port), 2)
    v.settimeout(2)
    echo(v, b"vanisher %d" % i)          # its agent reads it
    v.sendall(struct.pack(">H", 100) + b"0123456789")
    time.sleep(0.01)
    v.close()
    echo(good, b"good %d" % i)
good.close()
PY
check "gate: 20 clients vanish mid-packet; another client keeps echoing" $?
closes_after=""
agents_after=""
for _ in $(seq 50); do
  closes_after=$(watchdog_stat "$console_port" close)
  agents_after=$(watchdog_stat "$console_port" agents)
  [ "$closes_after" = "$((closes_before + 21))" ] && [ "$agents_after" = 0 ] && break
  sleep 0.1
done
[ "$closes_after" = "$((closes_before + 21))" ] && [ "$agents_after" = 0 ]
check "gate: the watchdog saw 21 closes ($closes_before -> $closes_after), agents back to $agents_after" $?
n=$(grep -Ec "watchdog: client fd [0-9]+ closed" "$LOG")
[ "$n" -ge 21 ]; check "gate: the log has a close line per client ($n)" $?
out=$(console "$console_port" list netstat)
agents_listed=$(grep -c "snlua faults_agent" <<<"$out")
gate_tcp=$(grep -c "peer:127.0.0.1" <<<"$out")
[ "$agents_listed" -eq 0 ] && [ "$gate_tcp" -le 1 ]
rc=$?; check "gate: no agent left ($agents_listed), no client socket left but the console's ($gate_tcp) ($(lap))" $rc

# --- 3. Half-close: request, shutdown(SHUT_WR); the answer still arrives in full.
# Known bug (HALFCLOSE_READ): the socket thread closes a socket completely when the
# peer's FIN arrives and nothing is queued (src/net/socket_server.cpp on_readable,
# "The peer closed"), so after socket.readall returns nothing can be written back;
# skynet keeps it half-open (SOCKET_TYPE_HALFCLOSE_READ) until socket.close.
python3 - "$echo_port" <<'PY'
import socket, sys
port = int(sys.argv[1])
payload = bytes((i * 7 + 1) % 251 for i in range(100000))
s = socket.create_connection(("127.0.0.1", port), 2)
s.settimeout(5)
s.sendall(b"HALF\n" + payload)
s.shutdown(socket.SHUT_WR)
got = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    got += d
want = b"%d\n" % len(payload) + payload
if got != want:
    print("half-close: got %d bytes (%r...), want %d" % (len(got), got[:20], len(want)))
    sys.exit(1)
PY
rc=$?; check "half-close: the full answer arrives after the client's shutdown(SHUT_WR) ($(lap))" $rc halfclose
grep -m1 "half: fd" "$LOG"

# --- 4. 1,000 clients connected at once, each sends and gets back a message.
python3 - "$echo_port" 1000 <<'PY'
import os, selectors, socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
sel = selectors.DefaultSelector()
class Client:
    pass
clients = []
for i in range(n):
    c = Client()
    c.i = i
    c.s = socket.socket()
    c.s.setblocking(False)
    c.s.connect_ex(("127.0.0.1", port))
    c.out = b"ECHO\nhello from client %d\n" % i
    c.want = b"hello from client %d\n" % i
    c.got = b""
    sel.register(c.s, selectors.EVENT_WRITE, c)
    clients.append(c)
done, errors = 0, []
t0 = time.time()
deadline = t0 + 30
pending = n
while pending and time.time() < deadline:
    for key, ev in sel.select(0.5):
        c = key.data
        try:
            if ev & selectors.EVENT_WRITE:
                err = c.s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    raise OSError(err, os.strerror(err))
                c.out = c.out[c.s.send(c.out):]
                if not c.out:
                    sel.modify(c.s, selectors.EVENT_READ, c)
            else:
                d = c.s.recv(4096)
                if not d:
                    raise OSError("closed after %d bytes" % len(c.got))
                c.got += d
                if len(c.got) >= len(c.want):
                    sel.unregister(c.s)
                    pending -= 1
                    if c.got == c.want:
                        done += 1
                    else:
                        errors.append((c.i, "wrong answer %r" % c.got))
        except OSError as e:
            sel.unregister(c.s)
            pending -= 1
            errors.append((c.i, str(e)))
for c in clients:
    c.s.close()
print("1000 clients: %d echoed, %d failed, %d unanswered, %.2f s" % (done, len(errors), pending, time.time() - t0))
for e in errors[:5]:
    print("  client %d: %s" % e)
sys.exit(0 if done == n else 1)
PY
rc=$?; check "1,000 concurrent clients all get their echo ($(lap))" $rc

# --- 5. 64 MiB to a client that reads slowly at first: warnings, every byte in order.
python3 - "$echo_port" <<'PY'
import socket, struct, sys, time
port = int(sys.argv[1])
CHUNK, TOTAL = 65536, 64 * 1024 * 1024
tail = bytes((k * 31 + 7) % 256 for k in range(4, CHUNK))
s = socket.create_connection(("127.0.0.1", port), 2)
s.settimeout(10)
s.sendall(b"BULK %d\n" % TOTAL)
t0 = time.time()
buf = bytearray()
time.sleep(1.0)                      # not reading at all
while time.time() - t0 < 2.0:        # then slowly: 4 KiB every 5 ms
    d = s.recv(4096)
    if not d:
        break
    buf += d
    time.sleep(0.005)
while True:                          # then as fast as it can
    d = s.recv(1 << 20)
    if not d:
        break
    buf += d
bad = None
for i in range(len(buf) // CHUNK):
    block = buf[i * CHUNK:(i + 1) * CHUNK]
    if block[:4] != struct.pack(">I", i) or block[4:] != tail:
        bad = i
        break
print("bulk: received %d bytes in %.2f s%s" % (len(buf), time.time() - t0,
      "" if bad is None else ", chunk %d is wrong" % bad))
sys.exit(0 if len(buf) == TOTAL and bad is None else 1)
PY
check "64 MiB write: the slow client gets every byte in order" $?
wait_log "$LOG" "bulk: fd [0-9]+: 67108864 bytes written"
grep -Eq "bulk: warning fd [0-9]+: [1-9][0-9]* KiB wait" "$LOG"
rc=$?; check "64 MiB write: socket.warning fired ($(grep -c 'bulk: warning' "$LOG") warnings, peak $(grep -o 'warning peak [0-9]* KiB' "$LOG" | head -1 | cut -d' ' -f3) KiB) ($(lap))" $rc

# --- 6. A client that never reads, the server writing to it: others still echo promptly.
python3 - "$echo_port" "$LOG" <<'PY'
import socket, sys, time
port, log = int(sys.argv[1]), sys.argv[2]
flood = socket.socket()
flood.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
flood.connect(("127.0.0.1", port))
flood.sendall(b"FLOOD\n")
echoers = []
for _ in range(3):
    e = socket.create_connection(("127.0.0.1", port), 2)
    e.settimeout(2)
    e.sendall(b"ECHO\n")
    echoers.append(e)
lat = []
def ping(s, i):
    msg = b"ping %d\n" % i
    t = time.monotonic()
    s.sendall(msg)
    got = b""
    while len(got) < len(msg):
        d = s.recv(4096)
        if not d:
            raise EOFError("echo connection closed")
        got += d
    assert got == msg, got
    return time.monotonic() - t
deadline = time.time() + 20
stopped_at = None
i = 0
while time.time() < deadline:
    for e in echoers:
        lat.append(ping(e, i))
        i += 1
    time.sleep(0.02)
    if stopped_at is None:
        with open(log, errors="replace") as f:
            if "flood: fd" in f.read():
                stopped_at = i
    elif i >= stopped_at + 60:
        break
flood.close()
lat.sort()
print("slow reader: %d pings while flooding, median %.1f ms, max %.1f ms%s" % (
    len(lat), 1000 * lat[len(lat) // 2], 1000 * lat[-1], "" if stopped_at else ", the flood never stopped"))
sys.exit(0 if stopped_at and lat[-1] < 0.2 else 1)
PY
check "slow reader: other clients' echoes stay under 200 ms" $?
grep -Eq "flood: warning fd [0-9]+: [1-9][0-9]* KiB wait" "$LOG"
rc=$?; check "slow reader: the warnings fired ($(grep -o 'stopped writing after.*' "$LOG" | head -1)) ($(lap))" $rc

# --- 8. socket.open to a closed port: nil and an error naming the address.
out=$(python3 - "$echo_port" "$closed_port" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 2)
s.settimeout(5)
s.sendall(b"CONNECT %s\n" % sys.argv[2].encode())
got = b""
while not got.endswith(b"\n"):
    d = s.recv(4096)
    if not d:
        break
    got += d
print(got.decode(errors="replace").strip())
PY
)
grep -q "^nil .*127.0.0.1:$closed_port.*refused" <<<"$out"
check "connect to a closed port: socket.open answers: $out" $?
grep -Eq "connect: socket.open returned nil, .*127.0.0.1:$closed_port.*refused" "$LOG"
rc=$?; check "connect to a closed port: logged ($(lap))" $rc

# --- 7. Descriptor exhaustion: a node under `ulimit -n 64`, 100+ clients.
echo2_port=$(free_port)
LOG2=$WORK/node2.log
make_config echo "$LOG2" 0 0 "$echo2_port" >"$WORK/config2"
bash -c 'ulimit -n 64 && exec "$0" "$1"' "$TERN" "$WORK/config2" 2>"$WORK/node2.stderr" &
node2_pid=$!
wait_port "$echo2_port"; check "fd-limited node (ulimit -n 64) listens" $?
python3 - "$echo2_port" "$node2_pid" <<'PY'
import os, socket, sys, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
tick = os.sysconf("SC_CLK_TCK")
def cpu():
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick
def try_echo(s, msg):
    try:
        s.sendall(b"ECHO\n" + msg)
        got = b""
        while len(got) < len(msg):
            d = s.recv(4096)
            if not d:
                return False
            got += d
        return got == msg
    except OSError:
        return False
conns, refused = [], 0
for i in range(100):
    try:
        conns.append(socket.create_connection(("127.0.0.1", port), 2))
    except OSError:
        refused += 1
served = 0
for i, s in enumerate(conns):
    s.settimeout(1)
    served += try_echo(s, b"client %d\n" % i)
# Saturated: the served ones stay connected; more keep knocking while we measure.
extra = []
c0, t0 = cpu(), time.time()
for i in range(20):
    try:
        s = socket.create_connection(("127.0.0.1", port), 0.5)
        extra.append(s)
    except OSError:
        pass
    time.sleep(0.05)
time.sleep(max(0, 1 - (time.time() - t0)))
used = cpu() - c0
alive = os.path.exists("/proc/%d" % pid)
for s in conns + extra:
    s.close()
time.sleep(0.5)
after = False
for _ in range(20):  # the node frees the descriptors as it sees the closes
    s = socket.create_connection(("127.0.0.1", port), 2)
    s.settimeout(2)
    after = try_echo(s, b"after the crowd\n")
    s.close()
    if after:
        break
    time.sleep(0.2)
print("fd limit: %d connected (%d refused), %d served, %d dropped; cpu %.2f s over 1 s while saturated; "
      "alive %s; echo afterwards %s" % (len(conns), refused, served, len(conns) - served, used, alive, after))
sys.exit(0 if served > 0 and served < len(conns) and used < 0.5 and alive and after else 1)
PY
check "fd exhaustion: the node lives, stays cool, and serves again after the crowd leaves" $?
grep -Eq "accept: .*(Too many open files|descriptor)" "$LOG2"
rc=$?; check "fd exhaustion: the log says so ($(grep -Eo 'accept: .*' "$LOG2" | head -1), $(grep -c 'accept: ' "$LOG2") lines) ($(lap))" $rc

# --- The end: both nodes stop on SIGTERM, no sanitizer report.
kill -TERM "$node2_pid"; wait "$node2_pid"; rc=$?; node2_pid=""
check "SIGTERM stops the fd-limited node (exit $rc)" $rc
kill -TERM "$node_pid"; wait "$node_pid"; rc=$?; node_pid=""
check "SIGTERM stops the node (exit $rc)" $rc
! grep -q "Sanitizer" "$WORK/node.stderr" "$WORK/node2.stderr"
check "no sanitizer report" $?
now=$(date +%s%N)
echo "total $(((now - t_start) / 1000000)) ms"
if [ $fail -ne 0 ]; then
  echo "--- node log"; tail -n 60 "$LOG"
  echo "--- node stderr"; tail -n 40 "$WORK/node.stderr"
  echo "--- fd-limited node log"; tail -n 30 "$LOG2"
  echo "--- fd-limited node stderr"; tail -n 40 "$WORK/node2.stderr"
fi
exit $fail
