// tern::server::http_server and websocket_server: swoole's Http\Server and
// WebSocket\Server on tern::server::server. docs/http.md describes them.
//
//   tern::server::http_server s("127.0.0.1", 9501, tern::server::mode::base);
//   s.set({{"worker_num", int64_t(2)}});
//   s.on_request = [](tern::server::http_request& req, tern::server::http_response& resp) {
//     resp.header("Content-Type", "text/plain");
//     resp.end("Hello, World!");
//   };
//   s.start();
//
// Requests are parsed in the worker that owns the connection (the master only
// moves bytes), with tern::http::request_parser (libhttp-parser). A
// connection's requests reach on_request one at a time and in order: a
// pipelined request waits until the response before it has ended. A response
// not ended when on_request returns, and not held (http_response::hold()), is
// ended with 500 (as swoole does when a Response object dies unended).
//
// Threading: as tern::server::server: callbacks run on a worker process's main
// thread; methods are for use inside callbacks (or timers) of that process.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "tern/server/server.hpp"

namespace tern::server {

// An uploaded file of a multipart/form-data request (swoole's $request->files).
// The file is in upload_tmp_dir and removed after the request's response ends,
// unless the handler moved it.
struct uploaded_file {
  std::string name;      // the client's file name
  std::string type;      // its Content-Type
  std::string tmp_name;  // path of the temporary file
  int error = 0;         // 0 (UPLOAD_ERR_OK), 1 (larger than upload_max_filesize), ...
  int64_t size = 0;
};

// swoole's Http\Request.
struct http_request {
  int fd = 0;
  // Header names in lower case; a repeated header's values joined with ", ".
  std::map<std::string, std::string> header;
  // request_method, request_uri, path_info, query_string, server_protocol,
  // remote_addr, remote_port, server_port, request_time, request_time_float,
  // master_time (swoole's keys, values as strings).
  std::map<std::string, std::string> server;
  std::map<std::string, std::string> get;     // query string (url-decoded)
  std::map<std::string, std::string> post;    // urlencoded or multipart fields (http_parse_post)
  std::map<std::string, std::string> cookie;  // Cookie header (http_parse_cookie)
  std::map<std::string, uploaded_file> files; // multipart file parts
  std::string body;                           // the raw body, de-chunked

  std::string_view raw_content() const { return body; }  // swoole's rawContent()
  std::string_view method() const;                       // server["request_method"]
  std::string_view path() const;                         // server["request_uri"] (no query)
};

// A Set-Cookie header's parts (swoole's $response->cookie() arguments).
struct cookie_options {
  int64_t expires = 0;  // seconds since the epoch; 0: a session cookie
  std::string path = "/";
  std::string domain;
  bool secure = false;
  bool httponly = false;
  std::string samesite;  // "", "Lax", "Strict", "None"
};

class http_server;

// swoole's Http\Response. Every method returns false (and changes nothing)
// once the response has ended or its connection is gone.
class http_response {
 public:
  struct state;
  explicit http_response(std::shared_ptr<state> st) : st_(std::move(st)) {}

  int fd() const;
  bool status(int code, std::string_view reason = {});
  // Adds a header (CR/LF in name or value: refused). Content-Length and
  // Transfer-Encoding are the server's (ignored).
  bool header(std::string_view name, std::string_view value);
  bool cookie(std::string_view name, std::string_view value, const cookie_options& opt = {});
  // Streams a chunk (chunked transfer encoding; gzip is off for a stream).
  bool write(std::string_view chunk);
  // Ends the response with `body` (Content-Length; gzip when the client
  // accepts it, http_compression is on and the type is text-like).
  bool end(std::string_view body = {});
  // A static file: Content-Type from the extension, Last-Modified, Range
  // (206 / 416) and If-Modified-Since (304). offset/length select a part.
  bool sendfile(const std::string& path, int64_t offset = 0, int64_t length = 0);
  // Location: url, status code (302 by default), empty body.
  bool redirect(std::string_view url, int code = 302);
  bool is_writable() const;
  // Keeps the response open past on_request (end it later, e.g. from a
  // task's on_finish or a timer). The copy refers to the same response.
  // (Any copy that outlives on_request holds it too.)
  http_response hold() const;

 private:
  std::shared_ptr<state> st_;
};

// A WebSocket message (swoole's WebSocket\Frame). With
// open_websocket_close_frame / ping / pong frames set, control frames arrive
// here too.
struct ws_frame {
  int fd = 0;
  std::string data;
  int opcode = 1;  // 1 text, 2 binary, 8 close, 9 ping, 10 pong
  bool finish = true;
  uint16_t code = 0;  // close frames: the close code
};

inline constexpr int WEBSOCKET_OPCODE_TEXT = 1, WEBSOCKET_OPCODE_BINARY = 2, WEBSOCKET_OPCODE_CLOSE = 8,
                     WEBSOCKET_OPCODE_PING = 9, WEBSOCKET_OPCODE_PONG = 10;

// swoole's Http\Server. Settings (set()) add swoole's HTTP keys to the
// Server's: http_parse_post, http_parse_cookie, http_compression,
// http_compression_level, http_compression_min_length, upload_tmp_dir,
// upload_max_filesize, document_root, enable_static_handler,
// http_header_timeout (seconds to receive a whole request head, default 10:
// slowloris), http_idle_timeout (keep-alive idle, default 60),
// http_max_header_size / http_max_header_count, and package_max_length as the
// body limit.
class http_server : public server {
 public:
  http_server(std::string host, int port, mode m = mode::process, sock_type type = sock_type::tcp);
  ~http_server();

  std::function<void(http_request& req, http_response& resp)> on_request;

  // Installs the HTTP layer on the Server's connection callbacks and runs it
  // (see server::start()). The Server's on_connect / on_close still run.
  bool start();

  struct http_impl;

 protected:
  std::unique_ptr<http_impl> http_;
};

// swoole's WebSocket\Server: an HTTP server whose connections may upgrade
// (RFC 6455). Plain HTTP requests still reach on_request when it is set
// (else 400). Settings add websocket_max_frame_size (default 2 MiB; 1009
// beyond), open_websocket_close_frame, open_websocket_ping_frame,
// open_websocket_pong_frame. Pings are answered with a pong unless
// open_websocket_ping_frame is set. Text frames must be UTF-8 (1007),
// client frames masked (1002).
class websocket_server : public http_server {
 public:
  websocket_server(std::string host, int port, mode m = mode::process, sock_type type = sock_type::tcp);

  // Optional: takes over the handshake (the default checks the request and
  // answers 101). Return true after resp.status(101) + headers + end() to
  // accept; false (or any other status) refuses.
  std::function<bool(http_request& req, http_response& resp)> on_handshake;
  std::function<void(websocket_server& s, http_request& req)> on_open;
  std::function<void(websocket_server& s, ws_frame& frame)> on_message;

  // A frame to an established connection (opcode 1/2, or a control frame).
  bool push(int fd, std::string_view data, int opcode = WEBSOCKET_OPCODE_TEXT, bool finish = true);
  // Sends a close frame (code, reason) and closes the connection.
  bool disconnect(int fd, int code = 1000, std::string_view reason = {});
  // Whether fd is an open WebSocket connection of this worker (PROCESS mode:
  // the worker that owns the connection knows; see docs/http.md).
  bool is_established(int fd) const;

  // Sec-WebSocket-Accept for a Sec-WebSocket-Key (for an on_handshake that
  // answers 101 itself).
  static std::string accept_key(std::string_view sec_websocket_key);
};

}  // namespace tern::server
