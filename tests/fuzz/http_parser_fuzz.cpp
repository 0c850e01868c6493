// libFuzzer target for tern::http::request_parser (src/http/request_parser.cpp,
// the wrapper around libhttp-parser). The stream is parsed twice: in one feed,
// and cut at pseudo-random points (seeded by the input) fed piece by piece.
// Both must report the same requests (method, target, version, headers,
// trailers, body, flags), the same consumed byte count and the same
// failed/upgraded outcome; an error status is one of 400/413/414/431/505; no
// feed is accepted after an error or an upgrade; nothing may crash, read out of
// bounds or leak (ASan/LSan), and memory stays within the limits.
//
// Input: byte 0: cut seed; byte 1: limits (bit 0: small header limits, bit 1:
// small body limit) and mode (bit 2: the stream is a response, parsed by
// response_parser the same two ways, bit 3: it answers a HEAD request); the
// stream is the rest.
//
// Build (preset fuzz): cmake --build --preset fuzz --target http_parser_fuzz
// Seeds: tests/fuzz/corpus/http/.
// Note: libhttp-parser itself is the Debian shared library, not instrumented:
// coverage guides through the wrapper's callbacks only.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <string>
#include <vector>

#include "http/request_parser.hpp"
#include "http/response.hpp"
#include "http/response_parser.hpp"

using namespace tern::http;

namespace {

struct Outcome {
  std::vector<request> reqs;
  int headers_seen = 0;
  std::size_t used = 0;
  bool failed = false;
  bool upgraded = false;
  int status = 0;
};

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "http_parser_fuzz: %s\n", what);
  std::abort();
}

bool same(const header_list& a, const header_list& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].name != b[i].name || a[i].value != b[i].value) return false;
  return true;
}

bool same(const request& a, const request& b) {
  return a.method == b.method && a.target == b.target && a.version_major == b.version_major &&
         a.version_minor == b.version_minor && same(a.headers, b.headers) && same(a.trailers, b.trailers) &&
         a.body == b.body && a.keep_alive == b.keep_alive && a.chunked == b.chunked &&
         a.expect_continue == b.expect_continue && a.upgrade == b.upgrade;
}

Outcome run(const parser_limits& lim, const char* data, std::size_t size, uint32_t seed) {
  Outcome o;
  request_parser p(lim);
  p.on_headers([&](const request& r) {
    ++o.headers_seen;
    if (!r.body.empty()) fail("body before headers complete");
  });
  p.on_request([&](request& r) {
    if (r.body.size() > lim.max_body_bytes) fail("body over the limit");
    if (r.headers.size() + r.trailers.size() > lim.max_header_count) fail("headers over the limit");
    if (r.target.size() > lim.max_target_bytes) fail("target over the limit");
    o.reqs.push_back(std::move(r));
  });
  int errors = 0;
  p.on_error([&](const parse_error& e) {
    ++errors;
    o.status = e.status;
  });
  std::size_t off = 0;
  while (off < size) {
    std::size_t n = size - off;
    if (seed != 0) {
      seed = seed * 1103515245u + 12345u;
      n = std::min<std::size_t>(n, 1 + (seed >> 16) % 64);
    }
    std::size_t used = p.feed(data + off, n);
    o.used += used;
    if (used > n) fail("consumed more than fed");
    if (p.failed() || p.upgraded()) break;
    if (used != n) fail("bytes left without error or upgrade");
    off += n;
  }
  o.failed = p.failed();
  o.upgraded = p.upgraded();
  if (o.failed || o.upgraded) {
    if (p.feed("GET / HTTP/1.1\r\n\r\n", 18) != 0) fail("input accepted after error/upgrade");
  }
  if (errors != (o.failed ? 1 : 0)) fail("error reported not exactly once");
  if (o.failed) {
    int s = o.status;
    if (s != 400 && s != 413 && s != 414 && s != 431 && s != 505) fail("unexpected status");
    std::string bytes = error_response(s, p.error().reason);
    if (bytes.size() < 20) fail("short error response");
  }
  return o;
}

struct ResponseOutcome {
  int status = 0;
  header_list headers, trailers;
  std::string body;
  std::size_t used = 0;
  bool head_done = false, done = false, failed = false, upgrade = false;
};

ResponseOutcome run_response(const response_limits& lim, bool head, const char* data, std::size_t size,
                             uint32_t seed) {
  ResponseOutcome o;
  response_parser p(lim);
  p.no_body(head);
  std::size_t off = 0;
  while (off < size && !p.done() && !p.failed()) {
    std::size_t n = size - off;
    if (seed != 0) {
      seed = seed * 1103515245u + 12345u;
      n = std::min<std::size_t>(n, 1 + (seed >> 16) % 64);
    }
    std::size_t used = p.feed(data + off, n);
    if (used > n) fail("response: consumed more than fed");
    if (used != n && !p.done() && !p.failed()) fail("response: bytes left before the end");
    o.used += used;
    o.body += p.peek_body();  // streamed: taken piece by piece
    p.clear_body();
    off += n;
  }
  if (!p.done() && !p.failed()) p.finish();
  o.body += p.peek_body();
  if (!p.done() && !p.failed()) fail("response: neither done nor failed after finish");
  if (p.done() && p.feed("x", 1) != 0) fail("response: input accepted after the end");
  if (o.body.size() > lim.max_body_bytes) fail("response: body over the limit");
  if (head && !o.body.empty()) fail("response: a body for HEAD");
  o.status = p.status();
  o.headers = p.headers();
  o.trailers = p.trailers();
  o.head_done = p.head_done();
  o.done = p.done();
  o.failed = p.failed();
  o.upgrade = p.upgrade();
  if (o.done && !o.head_done) fail("response: done without a head");
  return o;
}

void check_response(const uint8_t* data, std::size_t size) {
  uint32_t seed = data[0] | 0x100u;
  response_limits lim;
  if (data[1] & 1) {
    lim.max_header_bytes = 256;
    lim.max_header_count = 4;
  }
  if (data[1] & 2) lim.max_body_bytes = 16;
  bool head = (data[1] & 8) != 0;
  const char* stream = reinterpret_cast<const char*>(data + 2);
  ResponseOutcome whole = run_response(lim, head, stream, size - 2, 0);
  ResponseOutcome cut = run_response(lim, head, stream, size - 2, seed);
  if (whole.done != cut.done || whole.failed != cut.failed) fail("response: outcome differs");
  if (whole.done) {
    if (whole.status != cut.status || !same(whole.headers, cut.headers) || !same(whole.trailers, cut.trailers) ||
        whole.body != cut.body || whole.upgrade != cut.upgrade || whole.used != cut.used)
      fail("response: result differs");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  if (data[1] & 4) {
    check_response(data, size);
    return 0;
  }
  uint32_t seed = data[0] | 0x100u;
  parser_limits lim;
  if (data[1] & 1) {
    lim.max_header_bytes = 256;
    lim.max_target_bytes = 64;
    lim.max_header_count = 4;
  }
  lim.max_body_bytes = (data[1] & 2) ? 16 : 64 * 1024;
  const char* stream = reinterpret_cast<const char*>(data + 2);
  std::size_t n = size - 2;

  Outcome whole = run(lim, stream, n, 0);
  Outcome cut = run(lim, stream, n, seed);
  if (whole.reqs.size() != cut.reqs.size()) fail("request count differs");
  for (std::size_t i = 0; i < whole.reqs.size(); ++i)
    if (!same(whole.reqs[i], cut.reqs[i])) fail("request differs");
  if (whole.failed != cut.failed || whole.upgraded != cut.upgraded) fail("outcome differs");
  if (whole.upgraded && whole.used != cut.used) fail("upgrade offset differs");

  // The response writer on what was parsed.
  for (const request& r : whole.reqs) {
    response resp(200);
    resp.keep_alive(r.keep_alive).http10(r.version_minor == 0);
    resp.write(r.target);
    resp.end(r.body);
    if (!resp.finished()) fail("response not finished");
  }
  return 0;
}
