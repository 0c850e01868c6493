// src/http/response_parser: the client-side parser behind http.httpc and the
// WebSocket client handshake.
#include <gtest/gtest.h>

#include <string>

#include "http/response_parser.hpp"

using namespace tern::http;

namespace {

// Feeds s in pieces of `step` bytes, collecting the streamed body.
std::string feed_all(response_parser& p, std::string_view s, std::size_t step = 1 << 20) {
  std::string body;
  for (std::size_t off = 0; off < s.size() && !p.done() && !p.failed(); off += step) {
    std::size_t n = std::min(step, s.size() - off);
    p.feed(s.data() + off, n);
    body += p.peek_body();
    p.clear_body();
  }
  return body;
}

}  // namespace

TEST(ResponseParser, ContentLength) {
  response_parser p;
  std::string s = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhelloEXTRA";
  std::size_t used = p.feed(s.data(), s.size());
  EXPECT_EQ(used, s.size() - 5) << "stops after the response";
  EXPECT_TRUE(p.done());
  EXPECT_EQ(p.status(), 200);
  EXPECT_EQ(p.headers().get("content-type"), "text/plain");
  EXPECT_EQ(p.peek_body(), "hello");
  EXPECT_TRUE(p.keep_alive());
}

TEST(ResponseParser, ChunkedByteByByteWithTrailers) {
  response_parser p;
  std::string body = feed_all(p,
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n4;x=y\r\ndefg\r\n0\r\nX-Trailer: t\r\n\r\n",
      1);
  EXPECT_TRUE(p.done());
  EXPECT_EQ(body, "abcdefg");
  EXPECT_EQ(p.trailers().get("x-trailer"), "t");
}

TEST(ResponseParser, BodyUntilClose) {
  response_parser p;
  std::string body = feed_all(p, "HTTP/1.1 200 OK\r\n\r\nall of it");
  EXPECT_FALSE(p.done());
  p.finish();
  EXPECT_TRUE(p.done());
  EXPECT_FALSE(p.failed());
  EXPECT_EQ(body + p.peek_body(), "all of it");
}

TEST(ResponseParser, ClosedEarlyFails) {
  response_parser p;
  feed_all(p, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort");
  p.finish();
  EXPECT_TRUE(p.failed());
  response_parser q;
  feed_all(q, "HTTP/1.1 200 OK\r\nContent-");
  q.finish();
  EXPECT_TRUE(q.failed());
  EXPECT_EQ(q.error(), "connection closed before the response head");
}

TEST(ResponseParser, HeadHasNoBody) {
  response_parser p;
  p.no_body(true);
  feed_all(p, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
  EXPECT_TRUE(p.done());
  EXPECT_EQ(p.peek_body(), "");
}

TEST(ResponseParser, InterimResponsesSkipped) {
  response_parser p;
  // An interim response has no body even with a Content-Length (fuzzer).
  feed_all(p, "HTTP/1.1 100 Continue\r\nX-Interim: 1\r\nContent-Length: 5\r\n\r\n"
              "HTTP/1.1 204 No Content\r\nX-Final: 1\r\n\r\n");
  EXPECT_TRUE(p.done());
  EXPECT_EQ(p.status(), 204);
  EXPECT_FALSE(p.headers().has("x-interim"));
  EXPECT_TRUE(p.headers().has("x-final"));
}

TEST(ResponseParser, UpgradeLeavesTheRest) {
  response_parser p;
  std::string s = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x02hi";
  std::size_t used = p.feed(s.data(), s.size());
  EXPECT_TRUE(p.done());
  EXPECT_TRUE(p.upgrade());
  EXPECT_EQ(p.status(), 101);
  EXPECT_EQ(s.substr(used), "\x81\x02hi");
}

TEST(ResponseParser, Limits) {
  response_limits lim;
  lim.max_header_bytes = 64;
  response_parser p(lim);
  feed_all(p, "HTTP/1.1 200 OK\r\nX-Long: " + std::string(100, 'a') + "\r\n\r\n");
  EXPECT_TRUE(p.failed());
  EXPECT_EQ(p.error(), "response header block too large");
  response_limits blim;
  blim.max_body_bytes = 4;
  response_parser q(blim);
  feed_all(q, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_TRUE(q.failed());
  response_parser g;
  feed_all(g, "HTTP/1.1 abc\r\n\r\n");
  EXPECT_TRUE(g.failed());
  response_parser low;  // found by the fuzzer: a two-digit status read as interim
  low.no_body(true);
  feed_all(low, "HTTP/1.1 20 OK\r\n\r\nbody");
  EXPECT_TRUE(low.failed());
  EXPECT_EQ(low.error(), "invalid status code");
}
