# Helpers for the integration tests that talk TCP (sourced by *_test.sh).

# check NAME EXIT-CODE: prints "ok   NAME" or "FAIL NAME" and sets fail=1 on a
# non-zero code (the test exits with $fail).
check() {
  if [ "$2" -eq 0 ]; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi
}

# wait_log FILE REGEX [SECONDS]: waits (default 5 s) for a line of FILE
# matching the extended regex REGEX.
wait_log() {
  for _ in $(seq $(( ${3:-5} * 10 ))); do
    grep -Eq -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# free_port: a port on 127.0.0.1 nobody listens on right now, and not handed
# out before in this test run: a port picked for a node that has not bound it
# yet would otherwise come back from the kernel for the next caller. The ports
# given out are kept in /tmp/tern-ports-$$ ($$ is the test's shell, also inside
# $(...)); files of test shells that are gone are removed here.
for _f in /tmp/tern-ports-*; do
  [ -e "$_f" ] && ! kill -0 "${_f##*-}" 2>/dev/null && rm -f "$_f"
done
free_port() {
  local file=/tmp/tern-ports-$$ port
  for _ in $(seq 50); do
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
    if ! grep -qx "$port" "$file" 2>/dev/null; then
      echo "$port" >>"$file"
      echo "$port"
      return 0
    fi
  done
  return 1
}

# wait_port PORT: waits up to 10 s for something to accept on 127.0.0.1:PORT.
wait_port() {
  for _ in $(seq 100); do
    python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# console PORT LINES...: sends each line to the debug console and prints
# everything received, reading each answer until its end marker.
console() {
  python3 - "$@" <<'PY'
import socket, sys, time
port, lines = int(sys.argv[1]), sys.argv[2:]
s = socket.create_connection(("127.0.0.1", port), 2)
s.settimeout(0.2)
out = b""
ends = (b"<CMD OK>\n", b"<CMD Error>\n", b"help for command list\n", b"skynet console\n")
def drain():
    global out
    end = time.time() + 3
    while time.time() < end:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            if out.endswith(ends) or b"HTTP/1.1" in out:
                return
            continue
        if not chunk:
            return
        out += chunk
drain()
for line in lines:
    s.sendall(line.encode() + b"\n")
    drain()
sys.stdout.write(out.decode(errors="replace"))
PY
}
