// tern::http::response: builds HTTP/1.1 response bytes (no I/O). See docs/http.md.
//
//   response r(200);
//   r.header("Content-Type", "text/plain");
//   r.keep_alive(req.keep_alive);
//   r.send("hello");                     // complete, with Content-Length
//   out += r.take();
//
//   response s(200);                     // streaming: chunked framing
//   s.write("part 1"); s.write("part 2"); s.end();
//   out += s.take();                     // take() any time; bytes accumulate
//
// Every response carries Date (RFC 7231 IMF-fixdate, formatted once per second
// per thread) and Server: tern unless the caller set them.
#pragma once

#include <ctime>
#include <string>
#include <string_view>

namespace tern::http {

// "OK", "Not Found", ...; "Unknown" for codes without a registered phrase.
std::string_view reason_phrase(int status) noexcept;

using clock_fn = std::time_t (*)();

// IMF-fixdate of `t`: "Sun, 06 Nov 1994 08:49:37 GMT". The per-second cache
// (thread-local) serves repeated calls within one second.
std::string_view http_date(std::time_t t);

// "HTTP/1.1 100 Continue\r\n\r\n", for Expect: 100-continue.
std::string_view continue_response() noexcept;

// A complete error response (400, 413, 414, 431, 505, ...) with a short
// text/plain body "<status> <phrase>[: detail]\n" and Connection: close.
std::string error_response(int status, std::string_view detail = {}, clock_fn clock = nullptr);

class response {
 public:
  explicit response(int status = 200, std::string_view reason = {});

  response& status(int code, std::string_view reason = {});
  // Adds a header. CR, LF or NUL in name or value -> std::invalid_argument
  // (response splitting). Content-Length and Transfer-Encoding are ignored:
  // the framing is the writer's. "Connection: close" sets keep_alive(false).
  response& header(std::string_view name, std::string_view value);
  // false: "Connection: close" (the caller closes after sending).
  response& keep_alive(bool on);
  // The peer spoke HTTP/1.0: no chunked encoding (a streamed body is
  // delimited by closing the connection) and "Connection: keep-alive" when
  // kept alive.
  response& http10(bool on);
  // A response to HEAD: headers (Content-Length of `send`'s body) and no body.
  response& head_only(bool on);
  // Clock for Date (tests inject a fixed one); nullptr = std::time.
  response& clock(clock_fn fn);

  // The whole response with Content-Length (1xx, 204 and 304: no body, no length).
  void send(std::string_view body = {});
  // Streaming: the first write sends the head with Transfer-Encoding: chunked;
  // each non-empty chunk becomes one chunk. Empty chunks are skipped.
  void write(std::string_view chunk);
  // Ends the stream: the last chunk `last` (if any) and the 0-size chunk.
  // Without a prior write, same as send(last).
  void end(std::string_view last = {});

  // The bytes built so far (moved out).
  std::string take() { return std::move(out_); }
  const std::string& bytes() const noexcept { return out_; }

  bool head_sent() const noexcept { return head_sent_; }
  bool finished() const noexcept { return finished_; }
  bool keep_alive() const noexcept { return keep_alive_; }
  int status() const noexcept { return status_; }

 private:
  void head(bool chunked, std::size_t content_length, bool has_length);

  int status_;
  std::string reason_;
  std::string headers_;  // "Name: value\r\n"...
  bool has_date_ = false;
  bool has_server_ = false;
  bool keep_alive_ = true;
  bool http10_ = false;
  bool head_only_ = false;
  bool head_sent_ = false;
  bool chunked_ = false;
  bool finished_ = false;
  clock_fn clock_ = nullptr;
  std::string out_;
};

}  // namespace tern::http
