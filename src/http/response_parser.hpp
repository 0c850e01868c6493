// tern::http::response_parser: an HTTP/1.x response push parser (no I/O), the
// client-side twin of request_parser, on the same libhttp-parser. For
// http.httpc and the WebSocket client handshake.
//
//   response_parser p;
//   p.no_body(method == "HEAD");
//   while (!p.done() && !p.failed()) {
//     n = read(...);                       // n == 0: the peer closed
//     if (n == 0) p.finish(); else p.feed(buf, n);
//     if (p.head_done()) use(p.status(), p.headers());
//     consume(p.peek_body()); p.clear_body();   // body bytes so far (streaming)
//   }
//
// One response per parser: feed() stops consuming after the response is
// complete (the rest, e.g. WebSocket frames after a 101, is the caller's:
// data + used .. len). Interim 1xx responses other than 101 (100 Continue,
// 103 Early Hints) are skipped. A body delimited by the end of the connection
// (no Content-Length, not chunked) completes in finish().
//
// Threading: none; one parser per connection, used by its owner.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "http/request_parser.hpp"  // header_list

namespace tern::http {

struct response_limits {
  std::size_t max_header_bytes = 64 * 1024;     // status line + header block (and trailers)
  std::size_t max_header_count = 200;
  std::size_t max_body_bytes = std::size_t(-1);  // de-chunked total
};

class response_parser {
 public:
  explicit response_parser(response_limits limits = {});
  ~response_parser();
  response_parser(const response_parser&) = delete;
  response_parser& operator=(const response_parser&) = delete;

  // The response answers a HEAD request: no body, whatever the headers say.
  void no_body(bool on) { no_body_ = on; }

  // Parses up to len bytes; returns how many were consumed (fewer than len
  // only once the response is complete or the parser failed).
  std::size_t feed(const char* data, std::size_t len);
  // The connection ended: completes a body read until EOF, else fails (unless
  // already done).
  void finish();

  bool head_done() const noexcept { return head_done_; }
  bool done() const noexcept { return done_; }
  bool failed() const noexcept { return failed_; }
  const std::string& error() const noexcept { return error_; }

  int status() const noexcept { return status_; }
  int version_major() const noexcept { return major_; }
  int version_minor() const noexcept { return minor_; }
  const header_list& headers() const noexcept { return headers_; }
  const header_list& trailers() const noexcept { return trailers_; }
  bool keep_alive() const noexcept { return keep_alive_; }
  // A 101 with Connection: upgrade (the bytes after it are not HTTP).
  bool upgrade() const noexcept { return upgrade_; }
  // Body bytes received since the last clear_body() (streaming: read them,
  // then clear).
  const std::string& peek_body() const noexcept { return body_; }
  void clear_body() noexcept { body_.clear(); }
  std::size_t body_received() const noexcept { return body_total_; }

  struct impl;  // callbacks into libhttp-parser

 private:
  void fail(std::string why);
  void clear_message();

  response_limits limits_;
  std::unique_ptr<impl> impl_;
  header_list headers_;
  header_list trailers_;
  std::string body_;
  std::size_t body_total_ = 0;
  std::size_t header_bytes_ = 0;
  int status_ = 0;
  int major_ = 1, minor_ = 1;
  bool in_field_ = false;
  bool head_done_ = false;
  bool done_ = false;
  bool failed_ = false;
  bool keep_alive_ = false;
  bool upgrade_ = false;
  bool no_body_ = false;
  std::string error_;

  friend struct response_access;
};

}  // namespace tern::http
