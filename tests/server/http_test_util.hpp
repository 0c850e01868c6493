// Helpers for the http_server / websocket_server tests: the server in a
// forked child (as server_test_util.hpp's fork_server, for the HTTP
// classes), a raw-socket HTTP/1.1 response reader and a WebSocket client on
// tern::http::ws (masked frames out, frames in).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "http/websocket.hpp"
#include "server_test_util.hpp"
#include "tern/server/http.hpp"

namespace http_test {

using namespace server_test;
using tern::server::http_request;
using tern::server::http_response;
using tern::server::http_server;
using tern::server::websocket_server;
using tern::server::ws_frame;

// Forks a child running a T (http_server or websocket_server) on
// 127.0.0.1:port; `setup` configures it. Exit 0 if start() returned true, 3
// if false.
template <class T>
pid_t fork_http(int port, mode m, const std::function<void(T&)>& setup) {
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    int rc = 0;
    {
      T s("127.0.0.1", port, m);
      setup(s);
      if (!s.start()) {
        fprintf(stderr, "start failed: %s\n", s.error().c_str());
        rc = 3;
      }
    }
    _exit(rc);
  }
  return pid;
}

inline std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

struct response {
  bool ok = false;  // a whole response was read
  std::string version;
  int status = 0;
  std::multimap<std::string, std::string> headers;  // lower-case names
  std::string body;  // de-chunked
  bool chunked = false;

  std::string header(const std::string& name) const {
    auto it = headers.find(lower(name));
    return it == headers.end() ? std::string() : it->second;
  }
  bool has(const std::string& name) const { return headers.count(lower(name)) > 0; }
};

// Reads bytes into buf until it holds n (false on EOF / timeout).
inline bool fill(int fd, std::string& buf, size_t n, int64_t deadline) {
  char tmp[65536];
  while (buf.size() < n) {
    int64_t left = deadline - now_ms();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, int(left)) <= 0) continue;
    ssize_t r = recv(fd, tmp, sizeof tmp, 0);
    if (r <= 0) return false;
    buf.append(tmp, size_t(r));
  }
  return true;
}

// Reads until `stop` is in buf; its offset (npos on EOF / timeout).
inline size_t fill_until(int fd, std::string& buf, std::string_view stop, int64_t deadline, size_t from = 0) {
  char tmp[65536];
  for (;;) {
    size_t at = buf.find(stop, from);
    if (at != std::string::npos) return at;
    int64_t left = deadline - now_ms();
    if (left <= 0) return std::string::npos;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, int(left)) <= 0) continue;
    ssize_t r = recv(fd, tmp, sizeof tmp, 0);
    if (r <= 0) return std::string::npos;
    buf.append(tmp, size_t(r));
  }
}

// One response from fd. `buf` carries bytes read past it to the next call
// (pipelining). head_only: a response to HEAD (no body whatever the length).
inline response read_response(int fd, std::string& buf, bool head_only = false, int timeout_ms = 5000) {
  response r;
  int64_t deadline = now_ms() + timeout_ms;
  size_t end = fill_until(fd, buf, "\r\n\r\n", deadline);
  if (end == std::string::npos) return r;
  std::string head = buf.substr(0, end);
  buf.erase(0, end + 4);
  size_t eol = head.find("\r\n");
  std::string line = head.substr(0, eol);
  size_t sp = line.find(' ');
  r.version = line.substr(0, sp);
  r.status = std::atoi(line.c_str() + sp + 1);
  size_t at = eol == std::string::npos ? head.size() : eol + 2;
  while (at < head.size()) {
    size_t e = head.find("\r\n", at);
    if (e == std::string::npos) e = head.size();
    std::string h = head.substr(at, e - at);
    size_t colon = h.find(':');
    if (colon != std::string::npos) {
      std::string v = h.substr(colon + 1);
      while (!v.empty() && v.front() == ' ') v.erase(0, 1);
      r.headers.emplace(lower(h.substr(0, colon)), v);
    }
    at = e + 2;
  }
  if (head_only || r.status / 100 == 1 || r.status == 204 || r.status == 304) {
    r.ok = true;
    return r;
  }
  if (lower(r.header("transfer-encoding")) == "chunked") {
    r.chunked = true;
    for (;;) {
      size_t e = fill_until(fd, buf, "\r\n", deadline);
      if (e == std::string::npos) return r;
      size_t n = std::strtoul(buf.substr(0, e).c_str(), nullptr, 16);
      buf.erase(0, e + 2);
      if (!fill(fd, buf, n + 2, deadline)) return r;
      r.body.append(buf, 0, n);
      buf.erase(0, n + 2);
      if (n == 0) break;
    }
    r.ok = true;
    return r;
  }
  if (r.has("content-length")) {
    size_t n = std::strtoul(r.header("content-length").c_str(), nullptr, 10);
    if (!fill(fd, buf, n, deadline)) return r;
    r.body = buf.substr(0, n);
    buf.erase(0, n);
    r.ok = true;
    return r;
  }
  // Delimited by the close.
  fill(fd, buf, SIZE_MAX, deadline);
  r.body = std::move(buf);
  buf.clear();
  r.ok = true;
  return r;
}

// Sends a request and reads its response.
inline response roundtrip(int fd, std::string_view request, bool head_only = false) {
  std::string buf;
  if (!send_all(fd, request)) return {};
  return read_response(fd, buf, head_only);
}

inline std::string get(std::string_view path, std::string_view extra_headers = {}) {
  std::string r = "GET ";
  r += path;
  r += " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  r += extra_headers;
  r += "\r\n";
  return r;
}

// Waits until the server answers a GET / (any status) on a fresh connection.
inline bool wait_http(int port) {
  int64_t end = now_ms() + 5000;
  while (now_ms() < end) {
    int fd = connect_to(port, 100ms);
    if (fd >= 0) {
      response r = roundtrip(fd, get("/__ready__"));
      close(fd);
      if (r.ok) return true;
    }
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

// --- WebSocket client -------------------------------------------------------------

namespace ws = tern::http::ws;

struct ws_message {
  ws::opcode op = ws::opcode::text;
  std::string data;
  uint16_t code = 0;  // close
};

class ws_client {
 public:
  explicit ws_client(int fd) : fd_(fd), enc_(ws::role::client) {
    ws::decoder::callbacks cb;
    cb.on_message = [this](ws::opcode op, std::string_view p) { in_.push_back({op, std::string(p), 0}); };
    cb.on_control = [this](ws::opcode op, std::string_view p) { in_.push_back({op, std::string(p), 0}); };
    cb.on_close = [this](uint16_t code, std::string_view reason) {
      in_.push_back({ws::opcode::close, std::string(reason), code});
    };
    ws::limits lim;
    lim.max_frame = lim.max_message = 64u << 20;
    dec_ = std::make_unique<ws::decoder>(ws::role::client, std::move(cb), lim);
  }

  // The opening handshake; the 101 response (or the refusal).
  response handshake(std::string_view path = "/", std::string_view extra = {}) {
    std::string req = "GET ";
    req += path;
    req +=
        " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
    req += extra;
    req += "\r\n";
    if (!send_all(fd_, req)) return {};
    response r = read_response(fd_, buf_);
    if (!buf_.empty()) {  // frames right behind the 101
      dec_->feed(buf_);
      buf_.clear();
    }
    return r;
  }

  bool send(ws::opcode op, std::string_view payload, bool fin = true) {
    return send_all(fd_, enc_.frame(op, payload, fin));
  }
  bool send_raw(std::string_view bytes) { return send_all(fd_, bytes); }

  // The next message or control frame (op close with code 0 and data
  // "<timeout>" if none came).
  ws_message next(int timeout_ms = 5000) {
    int64_t deadline = now_ms() + timeout_ms;
    char tmp[65536];
    while (in_.empty()) {
      int64_t left = deadline - now_ms();
      if (left <= 0) return {ws::opcode::close, "<timeout>", 0};
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, int(left)) <= 0) continue;
      ssize_t r = recv(fd_, tmp, sizeof tmp, 0);
      if (r <= 0) return {ws::opcode::close, "<eof>", 0};
      dec_->feed(std::string_view(tmp, size_t(r)));
    }
    ws_message m = std::move(in_.front());
    in_.erase(in_.begin());
    return m;
  }

 private:
  int fd_;
  ws::encoder enc_;
  std::unique_ptr<ws::decoder> dec_;
  std::vector<ws_message> in_;
  std::string buf_;
};

}  // namespace http_test
