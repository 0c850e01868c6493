#!/usr/bin/env bash
# make bench SUITE=http: HTTP "Hello, World!" (13 bytes, text/plain,
# keep-alive) driven by `wrk -t2 -c100`, and a WebSocket echo driven by
# tern_load_client --websocket (16 connections, 16-byte text frames, one
# outstanding each). Servers, all on 127.0.0.1 with 2 workers:
#   tern-cpp-{process,base}   examples/server/tern_http_hello (C++ on_request)
#   tern-lua-{process,base}   tern-server examples/server/http_hello.lua
#   nginx                     `return 200 "Hello, World!"` (generated config)
#   tern-skynet-httpd         a tern node with skynet's http.httpd in Lua
#                             services (bench/http/skynet_httpd/config), if present
#   ws echo: tern_ws_echo (C++) and examples/server/ws_echo.lua, both modes.
# Per case and implementation: req/s (or msgs/s), the server's CPU per request
# (utime + stime of the server's whole process tree from /proc, read before and
# after the measured run: bench/proc_cpu.hpp via tern_tree_cpu), and that CPU
# against nginx's. HTTP_SECONDS (default 10) is the measured time per run,
# after HTTP_WARMUP (default 1) seconds of the same load; HTTP_CASES picks
# implementations by name (comma-separated, e.g. nginx,tern-cpp-base,ws-lua-base).
set -euo pipefail
build=${BUILD_DIR:-build/release}
seconds=${HTTP_SECONDS:-10}
warmup=${HTTP_WARMUP:-1}
cd "$(dirname "$0")/../.."
source tests/integration/net_lib.sh  # free_port, wait_port

# wrk and nginx are Debian packages (scripts/install-deps.sh lists them too).
missing=()
command -v wrk >/dev/null || missing+=(wrk)
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null || missing+=(nginx)
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "bench http: installing ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

tmp=$(mktemp -d /tmp/tern-bench-http-XXXXXX)
server_pid=""
stop_server() {
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}
cleanup() {
  stop_server
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM  # runs cleanup (EXIT) too

wanted() { [ -z "${HTTP_CASES:-}" ] || [[ ",$HTTP_CASES," == *",$1,"* ]]; }

# check_hello PORT: one request must answer 200 with exactly "Hello, World!".
check_hello() {
  python3 - "$1" <<'PY'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
c.request("GET", "/")
r = c.getresponse()
body = r.read()
if r.status != 200 or body != b"Hello, World!":
    sys.exit(f"bench http: unexpected answer {r.status} {body[:60]!r}")
PY
}

nginx_cpu=""  # us/req of nginx, for the *_vs_nginx lines

# run_wrk IMPL PORT: warm-up, then the measured wrk run; prints the JSON lines.
run_wrk() {
  local impl=$1 port=$2 url="http://127.0.0.1:$2/"
  wait_port "$port" || { echo "bench http: $impl did not listen on $port" >&2; return 1; }
  check_hello "$port"
  if [ "$warmup" != 0 ]; then wrk -t2 -c100 -d"${warmup}s" "$url" >/dev/null; fi
  local cpu0 cpu1
  cpu0=$("$build/bench/tern_tree_cpu" "$server_pid")
  wrk -t2 -c100 -d"${seconds}s" --latency "$url" >"$tmp/wrk.out"
  cpu1=$("$build/bench/tern_tree_cpu" "$server_pid")
  python3 - "$impl" "$cpu0" "$cpu1" "$tmp/wrk.out" "$nginx_cpu" <<'PY'
import json, re, sys
impl, cpu0, cpu1, path, nginx_cpu = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
text = open(path).read()
m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", text)
requests = int(m.group(1))
rate = float(re.search(r"Requests/sec:\s*([\d.]+)", text).group(1))
errors = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", text))
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
errors += int(non2xx.group(1)) if non2xx else 0
def ms(tag):
    m = re.search(r"^\s*" + tag + r"\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    if not m:
        return None
    return round(float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)], 1)
cpu = (cpu1 - cpu0) * 1e6 / requests if requests else float("nan")
def line(bench, value, unit, **extra):
    print(json.dumps({"bench": bench, "impl": impl, "value": value, "unit": unit, **extra}), flush=True)
line("http.hello", round(rate, 1), "req/s", p50_us=ms("50%"), p99_us=ms("99%"), requests=requests, errors=errors)
line("http.hello.cpu", round(cpu, 3), "us/req", server_cpu_s=round(cpu1 - cpu0, 2))
if nginx_cpu and impl != "nginx":
    line("http.hello.cpu_vs_nginx", round(cpu / float(nginx_cpu), 3), "x")
if impl == "nginx":
    open(path + ".nginx_cpu", "w").write(repr(cpu))
PY
  if [ "$impl" = nginx ] && [ -s "$tmp/wrk.out.nginx_cpu" ]; then nginx_cpu=$(cat "$tmp/wrk.out.nginx_cpu"); fi
}

# nginx first: the other cases are compared with its CPU per request.
if wanted nginx; then
  port=$(free_port)
  mkdir -p "$tmp/nginx"
  cat >"$tmp/nginx/nginx.conf" <<EOF
worker_processes 2;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $tmp/nginx/body;
  proxy_temp_path $tmp/nginx/proxy;
  fastcgi_temp_path $tmp/nginx/fastcgi;
  uwsgi_temp_path $tmp/nginx/uwsgi;
  scgi_temp_path $tmp/nginx/scgi;
  server {
    listen 127.0.0.1:$port;
    location / {
      default_type text/plain;
      return 200 "Hello, World!";
    }
  }
}
EOF
  # In the foreground (daemon off): the master is our child, its workers below it.
  "$NGINX" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/error.log" -g 'daemon off;' &
  server_pid=$!
  run_wrk nginx "$port"
  stop_server
fi

# start_example NAME LANG MODE PORT: examples/server's NAME (http_hello or
# ws_echo) in C++ (tern_NAME) or Lua (tern-server NAME.lua), 2 workers, in the
# background; sets server_pid.
start_example() {
  local name=$1 lang=$2 mode=$3 port=$4
  if [ "$lang" = cpp ]; then
    "$build/examples/tern_$name" --host 127.0.0.1 --port "$port" --mode "$mode" --workers 2 >/dev/null 2>"$tmp/server.err" &
  else
    "$build/tern-server" "examples/server/$name.lua" "$port" "$mode" 2 >/dev/null 2>"$tmp/server.err" &
  fi
  server_pid=$!
}

for lang in cpp lua; do
  for mode in process base; do
    impl="tern-$lang-$mode"
    wanted "$impl" || continue
    port=$(free_port)
    start_example http_hello "$lang" "$mode" "$port"
    run_wrk "$impl" "$port"
    stop_server
  done
done

# skynet's http.httpd in Lua services on a tern node (bench/http/skynet_httpd/;
# its config takes the port from TERN_BENCH_PORT, see its top comment).
skynet_config=bench/http/skynet_httpd/config
if wanted tern-skynet-httpd; then
  if [ -f "$skynet_config" ]; then
    port=$(free_port)
    TERN_BENCH_PORT=$port "$build/tern" "$skynet_config" >/dev/null 2>"$tmp/server.err" &
    server_pid=$!
    run_wrk tern-skynet-httpd "$port"
    stop_server
  else
    echo "bench http: $skynet_config not there: tern-skynet-httpd skipped" >&2
  fi
fi

# WebSocket echo: 16 connections, 16-byte text frames, window 1.
for lang in cpp lua; do
  for mode in process base; do
    impl="ws-$lang-$mode"
    wanted "$impl" || continue
    port=$(free_port)
    start_example ws_echo "$lang" "$mode" "$port"
    wait_port "$port" || { echo "bench http: $impl did not listen on $port" >&2; exit 1; }
    "$build/bench/tern_load_client" --host 127.0.0.1 --port "$port" --websocket /echo --connections 16 \
      --size 16 --window 1 --duration "$seconds" --warmup "$warmup" --server-pid "$server_pid" \
      --server-tree 1 --bench http.ws_echo --impl "tern-$lang-$mode" >"$tmp/ws.out"
    python3 - "$tmp/ws.out" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).read())
print(json.dumps(r), flush=True)
for bench, value, unit in (("http.ws_echo.p99", r["p99_us"], "us"),
                           ("http.ws_echo.cpu", r["server_cpu_us_per_msg"], "us/msg")):
    print(json.dumps({"bench": bench, "impl": r["impl"], "value": value, "unit": unit}), flush=True)
PY
    stop_server
  done
done
