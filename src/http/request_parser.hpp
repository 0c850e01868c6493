// tern::http::request_parser: an HTTP/1.1 request push parser (no I/O) around
// libhttp-parser (Debian libhttp-parser-dev). See docs/http.md.
//
//   request_parser p(limits);
//   p.on_headers([&](const request& r) { if (r.expect_continue) send(continue_response()); });
//   p.on_request([&](request& r) { handle(std::move(r)); });
//   p.on_error([&](const parse_error& e) { send(error_response(e.status, e.reason)); close(); });
//   size_t used = p.feed(data, len);
//
// feed() consumes every byte it is given, except after an upgrade request (the
// bytes after that request belong to the new protocol: data + used .. len) and
// after an error (the parser then refuses all further input and returns 0).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tern::http {

// ASCII case-insensitive comparison of header names / tokens.
bool iequals(std::string_view a, std::string_view b) noexcept;

struct header {
  std::string name;
  std::string value;
};

// A small vector of headers in arrival order, with case-insensitive lookup.
struct header_list : std::vector<header> {
  // The first header called `name`, or nullptr.
  const std::string* find(std::string_view name) const noexcept;
  // The value of the first header called `name`, or "" when absent.
  std::string_view get(std::string_view name) const noexcept;
  bool has(std::string_view name) const noexcept { return find(name) != nullptr; }
  // Whether some header `name` carries `token` in its comma-separated list
  // (case-insensitive), e.g. has_token("connection", "upgrade").
  bool has_token(std::string_view name, std::string_view token) const noexcept;
};

struct request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // request-target as sent ("/path?query", "*", "host:port")
  int version_major = 1;
  int version_minor = 1;
  header_list headers;
  header_list trailers;  // chunked request trailers
  std::string body;      // de-chunked
  bool keep_alive = true;       // HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with "keep-alive"
  bool chunked = false;         // request body was Transfer-Encoding: chunked
  bool expect_continue = false; // HTTP/1.1 "Expect: 100-continue"
  bool upgrade = false;         // Connection: upgrade + Upgrade: ... (or CONNECT)

  std::string_view header(std::string_view name) const noexcept { return headers.get(name); }
};

struct parser_limits {
  std::size_t max_header_bytes = 16 * 1024;   // request line + header block (and trailers) -> 431
  std::size_t max_target_bytes = 8 * 1024;    // request-target alone -> 414
  std::size_t max_header_count = 100;         // headers (and trailers) -> 431
  std::size_t max_body_bytes = 2 * 1024 * 1024;  // Content-Length or de-chunked total -> 413
};

struct parse_error {
  int status = 0;      // 400, 413, 414, 431 or 505
  std::string reason;  // short, for logs and the error body
};

class request_parser {
 public:
  using headers_fn = std::function<void(const request&)>;
  using request_fn = std::function<void(request&)>;
  using error_fn = std::function<void(const parse_error&)>;

  explicit request_parser(parser_limits limits = {});
  ~request_parser();
  request_parser(const request_parser&) = delete;
  request_parser& operator=(const request_parser&) = delete;

  // Header block complete (body not yet read): method, target, headers,
  // keep_alive, expect_continue, upgrade are set; body is empty.
  void on_headers(headers_fn fn) { on_headers_ = std::move(fn); }
  // A complete request; the callee may move from it.
  void on_request(request_fn fn) { on_request_ = std::move(fn); }
  // The first error; after it the parser refuses input.
  void on_error(error_fn fn) { on_error_ = std::move(fn); }

  // Parses `len` bytes; callbacks run synchronously, in order. Returns the
  // number of bytes consumed (see the header comment). Callbacks must not
  // call feed() or reset() on this parser.
  std::size_t feed(const char* data, std::size_t len);

  bool failed() const noexcept { return failed_; }
  const parse_error& error() const noexcept { return error_; }
  // An upgrade request was completed; the rest of the stream is not HTTP.
  bool upgraded() const noexcept { return upgraded_; }
  // Between requests (no partial request buffered).
  bool idle() const noexcept { return idle_; }

  // Back to the initial state (a new connection).
  void reset();

  // Limits for the bytes fed from now on (skynet's httpd takes the body limit
  // per read_request call, on a connection that may already be parsed).
  void set_limits(const parser_limits& limits) noexcept { limits_ = limits; }
  const parser_limits& limits() const noexcept { return limits_; }

  struct impl;  // callbacks into libhttp-parser

 private:
  bool fail(int status, std::string reason);

  parser_limits limits_;
  std::unique_ptr<impl> impl_;
  headers_fn on_headers_;
  request_fn on_request_;
  error_fn on_error_;
  request cur_;
  std::size_t header_bytes_ = 0;
  std::size_t header_count_ = 0;
  bool in_field_ = false;  // the last callback was a piece of a header name
  bool headers_done_ = false;
  bool failed_ = false;
  bool upgraded_ = false;
  bool idle_ = true;
  parse_error error_;

  friend struct impl_access;
};

}  // namespace tern::http
