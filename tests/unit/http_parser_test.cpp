// src/http: the request parser wrapper (libhttp-parser) and the response writer.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "http/request_parser.hpp"
#include "http/response.hpp"

using namespace tern::http;

namespace {

// Collects what a parser reports.
struct Sink {
  explicit Sink(parser_limits limits = {}) : p(limits) {
    p.on_headers([this](const request& r) {
      ++headers_seen;
      expect_at_headers.push_back(r.expect_continue);
    });
    p.on_request([this](request& r) { reqs.push_back(std::move(r)); });
    p.on_error([this](const parse_error& e) { errors.push_back(e); });
  }
  std::size_t feed(std::string_view s) { return p.feed(s.data(), s.size()); }
  request_parser p;
  std::vector<request> reqs;
  std::vector<parse_error> errors;
  std::vector<bool> expect_at_headers;
  int headers_seen = 0;
};

const std::string kGet =
    "GET /index.html?x=1 HTTP/1.1\r\n"
    "Host: example.com\r\n"
    "User-Agent: test\r\n"
    "X-Empty:\r\n"
    "Accept: */*\r\n"
    "\r\n";

std::time_t fixed_clock() { return 784111777; }  // Sun, 06 Nov 1994 08:49:37 GMT

}  // namespace

TEST(HttpParser, SimpleGet) {
  Sink s;
  EXPECT_EQ(s.feed(kGet), kGet.size());
  ASSERT_EQ(s.reqs.size(), 1u);
  const request& r = s.reqs[0];
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, "/index.html?x=1");
  EXPECT_EQ(r.version_major, 1);
  EXPECT_EQ(r.version_minor, 1);
  ASSERT_EQ(r.headers.size(), 4u);
  EXPECT_EQ(r.headers[0].name, "Host");
  EXPECT_EQ(r.headers[0].value, "example.com");
  EXPECT_EQ(r.headers[2].name, "X-Empty");
  EXPECT_EQ(r.headers[2].value, "");
  EXPECT_EQ(r.headers[3].name, "Accept");
  EXPECT_TRUE(r.body.empty());
  EXPECT_TRUE(r.keep_alive);
  EXPECT_FALSE(r.upgrade);
  EXPECT_FALSE(r.expect_continue);
  EXPECT_TRUE(s.errors.empty());
  EXPECT_TRUE(s.p.idle());
}

TEST(HttpParser, HeadersCaseInsensitive) {
  Sink s;
  s.feed("GET / HTTP/1.1\r\nhOsT: a\r\nCONTENT-type: text/x\r\nConnection: Keep-Alive, Foo\r\n\r\n");
  ASSERT_EQ(s.reqs.size(), 1u);
  const request& r = s.reqs[0];
  EXPECT_EQ(r.header("host"), "a");
  EXPECT_EQ(r.header("HOST"), "a");
  EXPECT_EQ(r.header("Content-Type"), "text/x");
  EXPECT_EQ(r.headers.find("missing"), nullptr);
  EXPECT_EQ(r.header("missing"), "");
  EXPECT_TRUE(r.headers.has_token("connection", "foo"));
  EXPECT_TRUE(r.headers.has_token("CONNECTION", "keep-alive"));
  EXPECT_FALSE(r.headers.has_token("connection", "close"));
}

TEST(HttpParser, PostContentLength) {
  Sink s;
  std::string req = "POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world";
  EXPECT_EQ(s.feed(req), req.size());
  ASSERT_EQ(s.reqs.size(), 1u);
  EXPECT_EQ(s.reqs[0].method, "POST");
  EXPECT_EQ(s.reqs[0].body, "hello world");
  EXPECT_FALSE(s.reqs[0].chunked);
}

TEST(HttpParser, ChunkedBodyWithExtensionsAndTrailers) {
  Sink s;
  std::string req =
      "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;name=value\r\nhello\r\n"
      "6\r\n world\r\n"
      "0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n"
      "GET /next HTTP/1.1\r\nHost: h\r\n\r\n";
  EXPECT_EQ(s.feed(req), req.size());
  ASSERT_EQ(s.reqs.size(), 2u);
  const request& r = s.reqs[0];
  EXPECT_TRUE(r.chunked);
  EXPECT_EQ(r.body, "hello world");
  ASSERT_EQ(r.trailers.size(), 2u);
  EXPECT_EQ(r.trailers.get("x-checksum"), "abc");
  EXPECT_EQ(r.trailers.get("x-other"), "1");
  EXPECT_EQ(r.headers.size(), 2u);
  EXPECT_EQ(s.reqs[1].target, "/next");
}

TEST(HttpParser, ThreePipelinedInOneBuffer) {
  Sink s;
  std::string buf = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
                    "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyz"
                    "GET /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
  EXPECT_EQ(s.feed(buf), buf.size());
  ASSERT_EQ(s.reqs.size(), 3u);
  EXPECT_EQ(s.reqs[0].target, "/a");
  EXPECT_EQ(s.reqs[1].target, "/b");
  EXPECT_EQ(s.reqs[1].body, "xyz");
  EXPECT_EQ(s.reqs[2].target, "/c");
  EXPECT_TRUE(s.reqs[1].keep_alive);
  EXPECT_FALSE(s.reqs[2].keep_alive);
}

TEST(HttpParser, OneByteAtATime) {
  Sink s;
  std::string buf = kGet +
                    "POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\nX-Long-Header-Name: some long value\r\n\r\n"
                    "3\r\nabc\r\n0\r\nT: v\r\n\r\n";
  for (char c : buf) {
    ASSERT_EQ(s.p.feed(&c, 1), 1u);
  }
  ASSERT_EQ(s.reqs.size(), 2u);
  EXPECT_EQ(s.reqs[0].target, "/index.html?x=1");
  ASSERT_EQ(s.reqs[0].headers.size(), 4u);
  EXPECT_EQ(s.reqs[0].headers[1].name, "User-Agent");
  EXPECT_EQ(s.reqs[0].headers[1].value, "test");
  EXPECT_EQ(s.reqs[1].header("x-long-header-name"), "some long value");
  EXPECT_EQ(s.reqs[1].body, "abc");
  EXPECT_EQ(s.reqs[1].trailers.get("t"), "v");
  EXPECT_TRUE(s.errors.empty());
}

TEST(HttpParser, Http10KeepAliveRules) {
  Sink s;
  s.feed("GET / HTTP/1.0\r\n\r\n");
  s.feed("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  s.feed("GET / HTTP/1.1\r\n\r\n");
  s.feed("GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
  ASSERT_EQ(s.reqs.size(), 4u);
  EXPECT_EQ(s.reqs[0].version_minor, 0);
  EXPECT_FALSE(s.reqs[0].keep_alive);
  EXPECT_TRUE(s.reqs[1].keep_alive);
  EXPECT_TRUE(s.reqs[2].keep_alive);
  EXPECT_FALSE(s.reqs[3].keep_alive);
}

TEST(HttpParser, ExpectContinueSeenAtHeaders) {
  Sink s;
  std::string head = "PUT /f HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 4\r\n\r\n";
  s.feed(head);
  EXPECT_EQ(s.headers_seen, 1);
  ASSERT_EQ(s.expect_at_headers.size(), 1u);
  EXPECT_TRUE(s.expect_at_headers[0]);
  EXPECT_TRUE(s.reqs.empty());  // body not yet here
  EXPECT_FALSE(s.p.idle());
  s.feed("data");
  ASSERT_EQ(s.reqs.size(), 1u);
  EXPECT_TRUE(s.reqs[0].expect_continue);
  EXPECT_EQ(s.reqs[0].body, "data");
  // HTTP/1.0 has no 100-continue.
  s.feed("PUT /f HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n");
  ASSERT_EQ(s.reqs.size(), 2u);
  EXPECT_FALSE(s.reqs[1].expect_continue);
}

TEST(HttpParser, HeaderBytesLimit431) {
  parser_limits lim;
  lim.max_header_bytes = 200;
  Sink s(lim);
  std::string req = "GET / HTTP/1.1\r\nX-Big: " + std::string(300, 'a') + "\r\n\r\n";
  s.feed(req);
  ASSERT_EQ(s.errors.size(), 1u);
  EXPECT_EQ(s.errors[0].status, 431);
  EXPECT_TRUE(s.reqs.empty());
  EXPECT_TRUE(s.p.failed());
}

TEST(HttpParser, HeaderBytesLimitAcrossFeeds431) {
  parser_limits lim;
  lim.max_header_bytes = 100;
  Sink s(lim);
  s.feed("GET / HTTP/1.1\r\n");
  for (int i = 0; i < 50 && !s.p.failed(); ++i) s.feed("X-H: vvvvv\r\n");
  ASSERT_EQ(s.errors.size(), 1u);
  EXPECT_EQ(s.errors[0].status, 431);
}

TEST(HttpParser, HeaderCountLimit431) {
  parser_limits lim;
  lim.max_header_count = 5;
  Sink s(lim);
  std::string req = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 6; ++i) req += "X-" + std::to_string(i) + ": v\r\n";
  req += "\r\n";
  s.feed(req);
  ASSERT_EQ(s.errors.size(), 1u);
  EXPECT_EQ(s.errors[0].status, 431);
  // Exactly at the limit is fine.
  Sink ok(lim);
  ok.feed("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n");
  EXPECT_TRUE(ok.errors.empty());
  EXPECT_EQ(ok.reqs.size(), 1u);
}

TEST(HttpParser, TargetLimit414) {
  parser_limits lim;
  lim.max_target_bytes = 64;
  Sink s(lim);
  s.feed("GET /" + std::string(100, 'p') + " HTTP/1.1\r\n\r\n");
  ASSERT_EQ(s.errors.size(), 1u);
  EXPECT_EQ(s.errors[0].status, 414);
}

TEST(HttpParser, BodyLimitContentLength413BeforeBody) {
  parser_limits lim;
  lim.max_body_bytes = 100;
  Sink s(lim);
  s.feed("POST / HTTP/1.1\r\nContent-Length: 101\r\nExpect: 100-continue\r\n\r\n");
  ASSERT_EQ(s.errors.size(), 1u);
  EXPECT_EQ(s.errors[0].status, 413);
  EXPECT_EQ(s.headers_seen, 0);  // no on_headers: the server must not send 100 Continue
  EXPECT_TRUE(s.reqs.empty());
  EXPECT_EQ(s.feed("x"), 0u);
}

TEST(HttpParser, BodyLimitChunked413) {
  parser_limits lim;
  lim.max_body_bytes = 100;
  Sink s(lim);
  s.feed("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
  for (int i = 0; i < 20 && !s.p.failed(); ++i) s.feed("a\r\n0123456789\r\n");
  ASSERT_EQ(s.errors.size(), 1u);
  EXPECT_EQ(s.errors[0].status, 413);
  EXPECT_TRUE(s.reqs.empty());
}

TEST(HttpParser, GarbageIs400AndInputRefused) {
  Sink s;
  std::string bad = "\x01\x02 nonsense\r\n\r\n";
  s.feed(bad);
  ASSERT_EQ(s.errors.size(), 1u);
  EXPECT_EQ(s.errors[0].status, 400);
  EXPECT_FALSE(s.errors[0].reason.empty());
  EXPECT_EQ(s.feed(kGet), 0u);
  EXPECT_TRUE(s.reqs.empty());
  EXPECT_EQ(s.errors.size(), 1u);  // reported once
  s.p.reset();
  EXPECT_EQ(s.feed(kGet), kGet.size());
  EXPECT_EQ(s.reqs.size(), 1u);
}

TEST(HttpParser, BadRequestsAre400) {
  for (std::string bad : {"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
                          "GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
                          "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                          "GET / HTTP/1.1\r\nBad Header\r\n\r\n"}) {
    Sink s;
    s.feed(bad);
    ASSERT_EQ(s.errors.size(), 1u) << bad;
    EXPECT_EQ(s.errors[0].status, 400) << bad;
  }
  Sink v;
  v.feed("GET / HTTP/2.0\r\n\r\n");
  ASSERT_EQ(v.errors.size(), 1u);
  EXPECT_EQ(v.errors[0].status, 505);
  EXPECT_TRUE(v.reqs.empty());
}

TEST(HttpParser, UpgradeLeavesTheRestToTheCaller) {
  Sink s;
  std::string head =
      "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  std::string frames = "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
  std::string buf = head + frames;
  std::size_t used = s.feed(buf);
  EXPECT_EQ(used, head.size());
  ASSERT_EQ(s.reqs.size(), 1u);
  EXPECT_TRUE(s.reqs[0].upgrade);
  EXPECT_EQ(s.reqs[0].header("upgrade"), "websocket");
  EXPECT_EQ(s.reqs[0].header("sec-websocket-key"), "dGhlIHNhbXBsZSBub25jZQ==");
  EXPECT_TRUE(s.p.upgraded());
  EXPECT_EQ(buf.substr(used), frames);
  EXPECT_EQ(s.feed("more"), 0u);
  EXPECT_TRUE(s.errors.empty());
}

TEST(HttpParser, CallbackExceptionPropagates) {
  request_parser p;
  p.on_request([](request&) { throw std::runtime_error("boom"); });
  EXPECT_THROW(p.feed(kGet.data(), kGet.size()), std::runtime_error);
  EXPECT_TRUE(p.failed());
}

TEST(HttpResponse, DateFormat) {
  EXPECT_EQ(http_date(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
}

TEST(HttpResponse, ExactBytes) {
  response r(200);
  r.clock(fixed_clock).header("Content-Type", "text/plain");
  r.send("hello");
  EXPECT_EQ(r.take(),
            "HTTP/1.1 200 OK\r\n"
            "Server: tern\r\n"
            "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            "Content-Type: text/plain\r\n"
            "Content-Length: 5\r\n"
            "\r\n"
            "hello");
  EXPECT_TRUE(r.finished());
}

TEST(HttpResponse, ConnectionCloseAndHttp10) {
  response r(404);
  r.clock(fixed_clock).keep_alive(false);
  r.send();
  EXPECT_EQ(r.take(),
            "HTTP/1.1 404 Not Found\r\nServer: tern\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            "Content-Length: 0\r\nConnection: close\r\n\r\n");
  response k(200);
  k.clock(fixed_clock).http10(true).header("Server", "x").header("Connection", "close");
  k.send("a");
  EXPECT_EQ(k.take(),
            "HTTP/1.0 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nServer: x\r\n"
            "Content-Length: 1\r\nConnection: close\r\n\r\na");
  response ka(204);
  ka.clock(fixed_clock).http10(true);
  ka.send("ignored");
  EXPECT_EQ(ka.take(),
            "HTTP/1.0 204 No Content\r\nServer: tern\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            "Connection: keep-alive\r\n\r\n");
}

TEST(HttpResponse, ChunkedFraming) {
  response r(200);
  r.clock(fixed_clock);
  r.write("hello");
  r.write("");  // skipped: an empty chunk would end the body
  r.write(std::string(26, 'z'));
  EXPECT_FALSE(r.finished());
  r.end("!");
  EXPECT_EQ(r.take(),
            "HTTP/1.1 200 OK\r\nServer: tern\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
            "5\r\nhello\r\n"
            "1a\r\nzzzzzzzzzzzzzzzzzzzzzzzzzz\r\n"
            "1\r\n!\r\n"
            "0\r\n\r\n");
  EXPECT_TRUE(r.finished());
  EXPECT_THROW(r.write("x"), std::logic_error);
}

TEST(HttpResponse, ChunkedRoundTripsThroughTheParser) {
  // The writer's chunked framing is what the parser (as a request body) accepts.
  response r(200);
  r.write("abc");
  r.write("defgh");
  r.end();
  std::string bytes = r.take();
  std::string body = bytes.substr(bytes.find("\r\n\r\n") + 4);
  Sink s;
  s.feed("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + body);
  ASSERT_EQ(s.reqs.size(), 1u);
  EXPECT_EQ(s.reqs[0].body, "abcdefgh");
}

TEST(HttpResponse, ErrorResponsesAndContinue) {
  EXPECT_EQ(error_response(431, {}, fixed_clock),
            "HTTP/1.1 431 Request Header Fields Too Large\r\nServer: tern\r\n"
            "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 36\r\nConnection: close\r\n\r\n431 Request Header Fields Too Large\n");
  std::string e400 = error_response(400, "bad", fixed_clock);
  EXPECT_EQ(e400.substr(0, 25), "HTTP/1.1 400 Bad Request\r");
  EXPECT_NE(e400.find("\r\n\r\n400 Bad Request: bad\n"), std::string::npos);
  EXPECT_EQ(error_response(413, {}, fixed_clock).substr(0, 31), "HTTP/1.1 413 Content Too Large\r");
  EXPECT_EQ(continue_response(), "HTTP/1.1 100 Continue\r\n\r\n");
}

TEST(HttpResponse, RejectsHeaderInjection) {
  response r;
  EXPECT_THROW(r.header("X-A", "v\r\nSet-Cookie: x"), std::invalid_argument);
  EXPECT_THROW(r.header("X\nB", "v"), std::invalid_argument);
  EXPECT_THROW(r.header("", "v"), std::invalid_argument);
}

TEST(HttpResponse, HeadOnly) {
  response r(200);
  r.clock(fixed_clock).head_only(true);
  r.send("hello");
  std::string b = r.take();
  EXPECT_NE(b.find("Content-Length: 5\r\n\r\n"), std::string::npos);
  EXPECT_EQ(b.substr(b.size() - 4), "\r\n\r\n");
}
