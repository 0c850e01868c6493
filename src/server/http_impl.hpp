// tern::server::http_server's insides, shared by http_server.cpp (connections,
// the request queue, dispatch, timeouts), http_response.cpp (the response
// methods), http_static.cpp (files) and http_websocket.cpp (the upgrade and
// frames). docs/http.md ("HTTP and WebSocket on the Server") is the overview.
//
// Threading: everything here lives in one worker process and is used on its
// main thread only (callbacks and timers), as the Server's callbacks are.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "http/request_parser.hpp"
#include "http/websocket.hpp"
#include "server/server_impl.hpp"
#include "tern/server/http.hpp"

namespace tern::server {

struct http_conn;

// One response: what the handler set, and where it goes.
struct http_response::state {
  http_server::http_impl* owner = nullptr;
  std::weak_ptr<http_conn> conn;
  int fd = 0;
  int status = 200;
  std::string reason;  // empty: the registered phrase
  std::vector<std::pair<std::string, std::string>> headers;  // as set, minus the server's
  std::string content_type;  // lower case, parameters dropped; empty: none set
  bool has_content_type = false, has_encoding = false, has_date = false, has_server = false;
  bool connection_upgrade = false;  // the handler's Connection: upgrade (a 101)
  bool http10 = false, keep_alive = true, head = false, accept_gzip = false;
  bool held = false, ended = false, streaming = false;
  bool handshake = false;  // the response to a WebSocket handshake
  // For sendfile(): the request's conditional and range headers.
  std::string if_modified_since, range;
  std::vector<std::string> tmp_files;  // uploads, removed when the response ends

  ~state();
  bool writable() const;
  void remove_tmp_files();
};

// A request the parser completed (or its error), waiting for the responses
// before it to end.
struct http_pending {
  http::request req;
  int error = 0;  // a parse error's status: answer it and close
  std::string reason;
};

// A connection as its worker sees it.
struct http_conn {
  int fd = 0;
  peer_info peer;
  std::string remote_port, server_port;  // as strings, once
  http::request_parser parser;
  std::deque<http_pending> queue;
  std::shared_ptr<http_response::state> current;  // the response in progress (at most one)
  std::string after_upgrade;  // bytes that came after an upgrade request
  bool closing = false;       // close() asked for: nothing more is read or answered
  bool pumping = false;       // pump() is on the stack
  bool headers_seen = false;  // the current request's head is complete
  int64_t head_started = 0;   // steady ms: when the request being received began
  int64_t last_active = 0;    // steady ms: last bytes in, or the last response's end
  // WebSocket, once upgraded.
  bool ws = false;
  std::unique_ptr<http::ws::decoder> decoder;

  explicit http_conn(const http::parser_limits& lim) : parser(lim) {}
};

struct http_server::http_impl {
  http_server* self = nullptr;
  websocket_server* ws = nullptr;  // set for a websocket_server
  server::impl* d = nullptr;
  http::parser_limits limits;
  std::unordered_map<int, std::shared_ptr<http_conn>> conns;  // by fd
  std::function<void(server&, int, int)> user_connect, user_close;
  std::function<void(server&, int)> user_worker_start;
  std::string doc_root;  // realpath of document_root (static handler), "" if off
  // The server map's clock fields, formatted once per second.
  int64_t time_cached = -1;
  std::string time_text;

  const struct settings& cfg() const { return d->cfg; }
  void log(int level, std::string_view msg) const { d->log(level, msg); }

  // http_server.cpp
  void worker_started();
  std::shared_ptr<http_conn> connected(int fd, const peer_info* p);
  void received(int fd, std::string_view data);
  void closed(int fd);
  void feed_http(const std::shared_ptr<http_conn>& c, std::string_view data);
  void pump(const std::shared_ptr<http_conn>& c);
  void dispatch(const std::shared_ptr<http_conn>& c, http::request& r);
  void build_request(http_conn& c, http::request& r, http_request& req, http_response::state& st);
  void finished(http_response::state& st);  // a response ended
  void close_conn(http_conn& c);
  void sweep();  // timeouts

  // http_static.cpp: the static handler; true if it answered.
  bool serve_static(http_request& req, http_response& resp);

  // http_websocket.cpp
  bool is_ws_upgrade(const http::request& r) const;
  void handshake(const std::shared_ptr<http_conn>& c, http_request& req, http_response& resp, http::request& r);
  void established(const std::shared_ptr<http_conn>& c, http_request& req);
  void feed_ws(const std::shared_ptr<http_conn>& c, std::string_view data);
  bool send_frame(int fd, http::ws::opcode op, std::string_view payload, bool fin = true);
};

// http_response.cpp: the status line and headers of st, framed by
// Content-Length (content_length >= 0) or chunked, or neither (a 1xx, 204,
// 304, or a body delimited by the close).
std::string response_head(const http_response::state& st, int64_t content_length, bool chunked);

}  // namespace tern::server
