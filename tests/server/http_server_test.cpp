// tern::server::http_server: requests and responses over raw sockets, in
// both modes where the behaviour is the basics (request fields, bodies,
// cookies, keep-alive, pipelining, chunked both ways, HTTP/1.0, HEAD, gzip,
// sendfile with Range, the static handler, redirect, 500s), and in one mode
// for the limits and timeouts (431, 400, 413, slowloris, idle, 100-continue)
// and TLS. Each test forks a server and cleans up every process it made.
#include <dirent.h>
#include <sys/stat.h>
#include <zlib.h>

#include <atomic>
#include <stdexcept>

#include "http_test_util.hpp"

using namespace http_test;
using tern::server::cookie_options;

namespace {

std::string mode_name(const ::testing::TestParamInfo<mode>& p) { return p.param == mode::process ? "Process" : "Base"; }

bool has_line(const std::string& body, const std::string& line) {
  return body.find("\n" + line + "\n") != std::string::npos || body.rfind(line + "\n", 0) == 0;
}

// The request as lines "key=value" (the handler's view of it).
std::string dump(const http_request& req) {
  std::string out;
  out += "method=" + std::string(req.method()) + "\n";
  out += "uri=" + std::string(req.path()) + "\n";
  for (auto& [k, v] : req.server) out += "server." + k + "=" + v + "\n";
  for (auto& [k, v] : req.get) out += "get." + k + "=" + v + "\n";
  for (auto& [k, v] : req.post) out += "post." + k + "=" + v + "\n";
  for (auto& [k, v] : req.cookie) out += "cookie." + k + "=" + v + "\n";
  for (auto& [k, v] : req.header) out += "header." + k + "=" + v + "\n";
  out += "body=" + req.body + "\n";
  return out;
}

void write_file(const std::string& path, const std::string& data) {
  FILE* f = fopen(path.c_str(), "wb");
  if (!f) return;
  fwrite(data.data(), 1, data.size(), f);
  fclose(f);
}

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = char('a' + i % 26);
  return s;
}

std::string gunzip(const std::string& in) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 32) != Z_OK) return "<inflateInit failed>";
  std::string out(1 << 20, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = uInt(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = uInt(out.size());
  int rc = inflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  inflateEnd(&zs);
  return rc == Z_STREAM_END ? out : "<inflate failed>";
}

std::string run(const std::string& cmd) {
  std::string out;
  FILE* f = popen((cmd + " 2>&1").c_str(), "r");
  if (!f) return "<popen failed>";
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  pclose(f);
  return out;
}

// Files named swoole.upfile.* in a directory.
int upload_files_in(const std::string& dir) {
  int n = 0;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d))
      if (std::string(e->d_name).rfind("swoole.upfile.", 0) == 0) ++n;
    closedir(d);
  }
  return n;
}

class HttpServer : public ServerFixture, public ::testing::WithParamInterface<mode> {
 protected:
  // The test app: routes on the path. Extra settings over worker_num 2.
  void start_app(mode m, setting_map extra = {}, std::function<void(http_server&)> more = nullptr) {
    std::string d = dir;
    pid_t pid = fork_http<http_server>(port, m, [&](http_server& s) {
      setting_map set{{"worker_num", int64_t(2)}, {"log_level", int64_t(4)}, {"upload_tmp_dir", d}};
      for (auto& [k, v] : extra) set[k] = v;
      if (!s.set(set)) fprintf(stderr, "set: %s\n", s.error().c_str());
      s.on_request = [&s, d](http_request& req, http_response& resp) { route(s, d, req, resp); };
      if (more) more(s);
    });
    servers.push_back(pid);
    ASSERT_TRUE(wait_http(port));
  }

  static void route(http_server& s, const std::string& dir, http_request& req, http_response& resp) {
    std::string p(req.path());
    if (p == "/echo" || p == "/__ready__") {
      resp.header("Content-Type", "text/plain");
      resp.end(dump(req));
    } else if (p == "/slow") {  // held, ended by a timer
      http_response later = resp.hold();
      s.after(150, [later](tern::server::server&, int) mutable { later.end("slow done"); });
    } else if (p == "/stream") {
      resp.header("Content-Type", "text/plain");
      resp.write("a");
      resp.write("bb");
      resp.end("ccc");
    } else if (p == "/upload") {
      auto it = req.files.find("up");
      if (it == req.files.end()) {
        resp.status(400);
        resp.end("no file");
        return;
      }
      const auto& f = it->second;
      std::string content = read_file(f.tmp_name);
      resp.end("name=" + f.name + "\ntype=" + f.type + "\nsize=" + std::to_string(f.size) +
               "\nerror=" + std::to_string(f.error) + "\ncontent=" + content + "\ntmp=" + f.tmp_name +
               "\nfield=" + req.post["field"] + "\n");
    } else if (p == "/cookie") {
      cookie_options o;
      o.expires = 1893456000;  // 2030-01-01
      o.path = "/p";
      o.domain = "example.com";
      o.secure = true;
      o.httponly = true;
      o.samesite = "Lax";
      resp.cookie("sid", "x y;z", o);
      resp.cookie("plain", "v");
      resp.end("a=" + req.cookie["a"] + "\nb=" + req.cookie["b"] + "\n");
    } else if (p == "/big") {
      std::string body;
      while (body.size() < 4000) body += "hello tern, hello gzip. ";
      resp.header("Content-Type", req.get.count("type") ? req.get["type"] : "text/plain; charset=utf-8");
      resp.end(body);
    } else if (p == "/file") {
      resp.sendfile(dir + "/data.bin");
    } else if (p == "/part") {
      resp.sendfile(dir + "/data.bin", 100, 50);
    } else if (p == "/nofile") {
      bool ok = resp.sendfile(dir + "/none.bin");
      if (ok) throw std::runtime_error("sendfile of a missing file returned true");
    } else if (p == "/go") {
      resp.redirect("/there", 301);
    } else if (p == "/forget") {
      // neither ended nor held
    } else if (p == "/throw") {
      throw std::runtime_error("handler failure");
    } else if (p == "/twice") {  // what a response says once it has ended
      bool before = resp.is_writable();
      resp.end("once");
      bool again = resp.end("twice") || resp.write("x") || resp.header("X-Late", "1") || resp.status(201) ||
                   resp.is_writable();
      append_file(dir + "/twice", std::string(before ? "writable" : "not writable") + (again ? " again" : " ended"));
    } else if (p == "/fd") {
      resp.end(std::to_string(req.fd) + " " + std::to_string(s.worker_id()));
    } else {
      resp.end("dynamic " + p);
    }
  }
};

// --- both modes ---------------------------------------------------------------------

TEST_P(HttpServer, GetWithQueryFillsTheRequest) {
  start_app(GetParam());
  int fd = client();
  response r = roundtrip(fd, get("/echo?a=1&b=x+y%21&empty=&a=2#frag", "X-Test: one\r\nX-Test: two\r\n"));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.version, "HTTP/1.1");
  EXPECT_EQ(r.header("content-type"), "text/plain");
  EXPECT_EQ(r.header("server"), "tern");
  EXPECT_FALSE(r.header("date").empty());
  const std::string& b = r.body;
  EXPECT_TRUE(has_line(b, "method=GET")) << b;
  EXPECT_TRUE(has_line(b, "uri=/echo")) << b;
  EXPECT_TRUE(has_line(b, "server.request_uri=/echo")) << b;
  EXPECT_TRUE(has_line(b, "server.path_info=/echo")) << b;
  EXPECT_TRUE(has_line(b, "server.query_string=a=1&b=x+y%21&empty=&a=2")) << b;
  EXPECT_TRUE(has_line(b, "server.server_protocol=HTTP/1.1")) << b;
  EXPECT_TRUE(has_line(b, "server.remote_addr=127.0.0.1")) << b;
  EXPECT_TRUE(has_line(b, "server.server_port=" + std::to_string(port))) << b;
  EXPECT_NE(b.find("server.remote_port="), std::string::npos) << b;
  EXPECT_NE(b.find("server.request_time_float="), std::string::npos) << b;
  EXPECT_NE(b.find("server.master_time="), std::string::npos) << b;
  EXPECT_TRUE(has_line(b, "get.a=2")) << b;  // the last wins
  EXPECT_TRUE(has_line(b, "get.b=x y!")) << b;
  EXPECT_TRUE(has_line(b, "get.empty=")) << b;
  EXPECT_TRUE(has_line(b, "header.x-test=one, two")) << b;
  EXPECT_TRUE(has_line(b, "header.host=127.0.0.1")) << b;
}

TEST_P(HttpServer, PostUrlencodedFillsPost) {
  start_app(GetParam());
  int fd = client();
  std::string body = "name=tern+server&lang=c%2B%2B&flag";
  response r = roundtrip(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                            "Content-Length: " +
                                std::to_string(body.size()) + "\r\n\r\n" + body);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(has_line(r.body, "method=POST")) << r.body;
  EXPECT_TRUE(has_line(r.body, "post.name=tern server")) << r.body;
  EXPECT_TRUE(has_line(r.body, "post.lang=c++")) << r.body;
  EXPECT_TRUE(has_line(r.body, "post.flag=")) << r.body;
  EXPECT_TRUE(has_line(r.body, "body=" + body)) << r.body;
}

TEST_P(HttpServer, MultipartUploadIsAFileRemovedAfterTheResponse) {
  start_app(GetParam());
  int fd = client();
  std::string content = "line one\r\nline two\r\n--not-the-boundary\r\n" + pattern(3000);
  std::string body =
      "--XyZ\r\nContent-Disposition: form-data; name=\"field\"\r\n\r\nvalue 1\r\n"
      "--XyZ\r\nContent-Disposition: form-data; name=\"up\"; filename=\"a;b.txt\"\r\n"
      "Content-Type: text/plain\r\n\r\n" +
      content + "\r\n--XyZ--\r\n";
  response r = roundtrip(fd, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=XyZ\r\n"
                            "Content-Length: " +
                                std::to_string(body.size()) + "\r\n\r\n" + body);
  ASSERT_TRUE(r.ok);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(has_line(r.body, "name=a;b.txt")) << r.body;
  EXPECT_TRUE(has_line(r.body, "type=text/plain")) << r.body;
  EXPECT_TRUE(has_line(r.body, "size=" + std::to_string(content.size()))) << r.body;
  EXPECT_TRUE(has_line(r.body, "error=0")) << r.body;
  EXPECT_TRUE(has_line(r.body, "field=value 1")) << r.body;
  EXPECT_NE(r.body.find("\ncontent=" + content + "\n"), std::string::npos);
  size_t at = r.body.find("\ntmp=");
  ASSERT_NE(at, std::string::npos);
  std::string tmp = r.body.substr(at + 5, r.body.find('\n', at + 1) - at - 5);
  EXPECT_EQ(tmp.rfind(dir + "/swoole.upfile.", 0), 0u) << tmp;
  EXPECT_TRUE(eventually([&] { return access(tmp.c_str(), F_OK) != 0; })) << tmp << " still there";
  EXPECT_EQ(upload_files_in(dir), 0);
}

TEST_P(HttpServer, CookiesBothWays) {
  start_app(GetParam());
  int fd = client();
  response r = roundtrip(fd, get("/cookie", "Cookie: a=1; b=hello%20world\r\n"));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.body, "a=1\nb=hello world\n");
  std::vector<std::string> set;
  for (auto [it, end] = r.headers.equal_range("set-cookie"); it != end; ++it) set.push_back(it->second);
  ASSERT_EQ(set.size(), 2u);
  EXPECT_EQ(set[0].rfind("sid=x%20y%3Bz; expires=Tue, 01 Jan 2030 00:00:00 GMT; Max-Age=", 0), 0u) << set[0];
  EXPECT_NE(set[0].find("; path=/p; domain=example.com; secure; httponly; samesite=Lax"), std::string::npos)
      << set[0];
  EXPECT_EQ(set[1], "plain=v; path=/");
}

TEST_P(HttpServer, KeepAliveServesThreeRequestsOnOneConnection) {
  start_app(GetParam());
  int fd = client();
  std::string buf, first;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(send_all(fd, get("/fd")));
    response r = read_response(fd, buf);
    ASSERT_TRUE(r.ok) << i;
    EXPECT_EQ(r.status, 200);
    EXPECT_FALSE(r.has("connection")) << i;  // kept alive (HTTP/1.1 default)
    if (i == 0) first = r.body;
    EXPECT_EQ(r.body, first) << "same fd, same worker";
  }
  // Connection: close from the client: answered, then closed.
  ASSERT_TRUE(send_all(fd, get("/fd", "Connection: close\r\n")));
  response last = read_response(fd, buf);
  EXPECT_EQ(last.body, first);
  EXPECT_EQ(lower(last.header("connection")), "close");
  EXPECT_TRUE(wait_eof(fd, 3000));
}

TEST_P(HttpServer, PipelinedRequestsAreAnsweredInOrder) {
  start_app(GetParam());
  int fd = client();
  // The first is held by the handler for 150 ms; the others must wait for it.
  ASSERT_TRUE(send_all(fd, get("/slow") + get("/echo?n=2") + get("/echo?n=3")));
  std::string buf;
  response a = read_response(fd, buf), b = read_response(fd, buf), c = read_response(fd, buf);
  ASSERT_TRUE(a.ok && b.ok && c.ok);
  EXPECT_EQ(a.body, "slow done");
  EXPECT_TRUE(has_line(b.body, "get.n=2")) << b.body;
  EXPECT_TRUE(has_line(c.body, "get.n=3")) << c.body;
}

TEST_P(HttpServer, ChunkedRequestBodyIsJoined) {
  start_app(GetParam());
  int fd = client();
  response r = roundtrip(fd,
                        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n");
  ASSERT_TRUE(r.ok);
  EXPECT_TRUE(has_line(r.body, "body=hello world")) << r.body;
}

TEST_P(HttpServer, WriteStreamsAChunkedResponse) {
  start_app(GetParam());
  int fd = client();
  std::string buf;
  ASSERT_TRUE(send_all(fd, get("/stream")));
  response r = read_response(fd, buf);
  ASSERT_TRUE(r.ok);
  EXPECT_TRUE(r.chunked);
  EXPECT_FALSE(r.has("content-length"));
  EXPECT_EQ(r.body, "abbccc");
  // The connection goes on.
  ASSERT_TRUE(send_all(fd, get("/echo")));
  EXPECT_EQ(read_response(fd, buf).status, 200);
}

TEST_P(HttpServer, Http10GetsHttp10AndTheClose) {
  start_app(GetParam());
  int fd = client();
  response r = roundtrip(fd, "GET /echo HTTP/1.0\r\n\r\n");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.version, "HTTP/1.0");
  EXPECT_TRUE(has_line(r.body, "server.server_protocol=HTTP/1.0")) << r.body;
  EXPECT_TRUE(wait_eof(fd, 3000));
  // A stream to an HTTP/1.0 client: no chunked coding, the close ends it.
  int fd2 = client();
  response s = roundtrip(fd2, "GET /stream HTTP/1.0\r\n\r\n");
  ASSERT_TRUE(s.ok);
  EXPECT_FALSE(s.chunked);
  EXPECT_EQ(s.body, "abbccc");
  // HTTP/1.0 with keep-alive is kept.
  int fd3 = client();
  std::string buf;
  ASSERT_TRUE(send_all(fd3, "GET /fd HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  response k = read_response(fd3, buf);
  EXPECT_EQ(lower(k.header("connection")), "keep-alive");
  ASSERT_TRUE(send_all(fd3, "GET /fd HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  EXPECT_EQ(read_response(fd3, buf).body, k.body);
}

TEST_P(HttpServer, HeadGetsHeadersOnly) {
  start_app(GetParam());
  int fd = client();
  std::string buf;
  ASSERT_TRUE(send_all(fd, "HEAD /big HTTP/1.1\r\nHost: x\r\n\r\n"));
  response h = read_response(fd, buf, true);
  ASSERT_TRUE(h.ok);
  EXPECT_EQ(h.status, 200);
  EXPECT_GE(std::atoi(h.header("content-length").c_str()), 4000);
  // No body bytes came: the next response starts right away.
  ASSERT_TRUE(send_all(fd, get("/fd")));
  response g = read_response(fd, buf);
  ASSERT_TRUE(g.ok);
  EXPECT_EQ(g.status, 200);
  EXPECT_EQ(g.body.find("hello"), std::string::npos);
}

TEST_P(HttpServer, GzipWhenAcceptedAndTextLike) {
  start_app(GetParam());
  int fd = client();
  std::string buf;
  ASSERT_TRUE(send_all(fd, get("/big", "Accept-Encoding: deflate, gzip;q=0.8\r\n")));
  response z = read_response(fd, buf);
  ASSERT_TRUE(z.ok);
  EXPECT_EQ(z.header("content-encoding"), "gzip");
  EXPECT_EQ(z.header("vary"), "Accept-Encoding");
  std::string plain = gunzip(z.body);
  EXPECT_GE(plain.size(), 4000u);
  EXPECT_EQ(plain.rfind("hello tern, hello gzip. ", 0), 0u);
  EXPECT_LT(z.body.size(), plain.size() / 4);
  // Not accepted, refused with q=0, or not text-like: plain.
  ASSERT_TRUE(send_all(fd, get("/big")));
  response p = read_response(fd, buf);
  EXPECT_FALSE(p.has("content-encoding"));
  EXPECT_EQ(p.body, plain);
  ASSERT_TRUE(send_all(fd, get("/big", "Accept-Encoding: gzip;q=0\r\n")));
  EXPECT_FALSE(read_response(fd, buf).has("content-encoding"));
  ASSERT_TRUE(send_all(fd, get("/big?type=image/png", "Accept-Encoding: gzip\r\n")));
  EXPECT_FALSE(read_response(fd, buf).has("content-encoding"));
  ASSERT_TRUE(send_all(fd, get("/big?type=application/json", "Accept-Encoding: gzip\r\n")));
  EXPECT_EQ(read_response(fd, buf).header("content-encoding"), "gzip");
}

TEST_P(HttpServer, SendfileWithRange) {
  std::string data = pattern(1000);
  write_file(dir + "/data.bin", data);
  start_app(GetParam());
  int fd = client();
  std::string buf;
  auto ask = [&](const std::string& req) {
    EXPECT_TRUE(send_all(fd, req));
    return read_response(fd, buf);
  };
  response full = ask(get("/file"));
  ASSERT_TRUE(full.ok);
  EXPECT_EQ(full.status, 200);
  EXPECT_EQ(full.body, data);
  EXPECT_EQ(full.header("content-type"), "application/octet-stream");
  EXPECT_EQ(full.header("accept-ranges"), "bytes");
  std::string modified = full.header("last-modified");
  EXPECT_FALSE(modified.empty());

  response r = ask(get("/file", "Range: bytes=10-19\r\n"));
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.header("content-range"), "bytes 10-19/1000");
  EXPECT_EQ(r.body, data.substr(10, 10));
  response tail = ask(get("/file", "Range: bytes=-5\r\n"));
  EXPECT_EQ(tail.status, 206);
  EXPECT_EQ(tail.body, data.substr(995));
  response open = ask(get("/file", "Range: bytes=990-\r\n"));
  EXPECT_EQ(open.status, 206);
  EXPECT_EQ(open.header("content-range"), "bytes 990-999/1000");
  response bad = ask(get("/file", "Range: bytes=2000-3000\r\n"));
  EXPECT_EQ(bad.status, 416);
  EXPECT_EQ(bad.header("content-range"), "bytes */1000");
  EXPECT_EQ(bad.body, "");
  response same = ask(get("/file", "If-Modified-Since: " + modified + "\r\n"));
  EXPECT_EQ(same.status, 304);
  EXPECT_TRUE(same.body.empty());
  response part = ask(get("/part"));
  EXPECT_EQ(part.status, 200);
  EXPECT_EQ(part.body, data.substr(100, 50));
  response head = [&] {
    EXPECT_TRUE(send_all(fd, "HEAD /file HTTP/1.1\r\nHost: x\r\n\r\n"));
    return read_response(fd, buf, true);
  }();
  EXPECT_EQ(head.header("content-length"), "1000");
  response missing = ask(get("/nofile"));
  EXPECT_EQ(missing.status, 404);
  // Still in step: the connection serves on.
  EXPECT_EQ(ask(get("/file", "Range: bytes=0-0\r\n")).body, "a");
}

TEST_P(HttpServer, StaticHandlerServesFilesUnderTheRootOnly) {
  mkdir((dir + "/www").c_str(), 0755);
  mkdir((dir + "/www/sub").c_str(), 0755);
  write_file(dir + "/www/a.txt", "static A");
  write_file(dir + "/www/sub/b.html", "<p>b</p>");
  write_file(dir + "/secret.txt", "secret");
  ASSERT_EQ(symlink((dir + "/secret.txt").c_str(), (dir + "/www/link.txt").c_str()), 0);
  start_app(GetParam(), {{"document_root", dir + "/www"}, {"enable_static_handler", true}});
  int fd = client();
  std::string buf;
  auto ask = [&](const std::string& req, bool head = false) {
    EXPECT_TRUE(send_all(fd, req));
    return read_response(fd, buf, head);
  };
  response a = ask(get("/a.txt"));
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body, "static A");
  EXPECT_EQ(a.header("content-type"), "text/plain");
  response b = ask(get("/sub/b.html"));
  EXPECT_EQ(b.body, "<p>b</p>");
  EXPECT_EQ(b.header("content-type"), "text/html");
  response h = ask("HEAD /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", true);
  EXPECT_EQ(h.header("content-length"), "8");
  for (const char* evil : {"/../secret.txt", "/sub/../../secret.txt", "/%2e%2e/secret.txt", "/link.txt"}) {
    response e = ask(get(evil));
    EXPECT_TRUE(e.status == 403 || e.status == 404) << evil << ": " << e.status;
    EXPECT_EQ(e.body.find("secret\n"), std::string::npos) << evil;
    EXPECT_NE(e.body, "secret") << evil;
  }
  response dyn = ask(get("/nothing.txt"));
  EXPECT_EQ(dyn.body, "dynamic /nothing.txt");  // not a file: on_request's
}

TEST_P(HttpServer, RedirectAndServerErrors) {
  start_app(GetParam());
  int fd = client();
  std::string buf;
  auto ask = [&](const std::string& path) {
    EXPECT_TRUE(send_all(fd, get(path)));
    return read_response(fd, buf);
  };
  response go = ask("/go");
  EXPECT_EQ(go.status, 301);
  EXPECT_EQ(go.header("location"), "/there");
  EXPECT_EQ(go.body, "");
  response once = ask("/twice");
  EXPECT_EQ(once.body, "once");
  EXPECT_FALSE(once.has("x-late"));
  EXPECT_TRUE(eventually([&] { return read_file(dir + "/twice") == "writable ended"; })) << read_file(dir + "/twice");
  response forgot = ask("/forget");
  EXPECT_EQ(forgot.status, 500);
  EXPECT_EQ(ask("/echo").status, 200);  // the same connection serves on
  response threw = ask("/throw");
  EXPECT_EQ(threw.status, 500);
  response next = ask("/echo");
  EXPECT_EQ(next.status, 200);
  EXPECT_TRUE(has_line(next.body, "uri=/echo"));
}

INSTANTIATE_TEST_SUITE_P(Modes, HttpServer, ::testing::Values(mode::process, mode::base), mode_name);

// --- limits, timeouts, TLS (one mode each) ------------------------------------------------

using HttpLimits = HttpServer;

TEST_F(HttpLimits, OversizedHeadersGet431AndTheClose) {
  start_app(mode::process, {{"http_max_header_size", int64_t(1024)}});
  int fd = client();
  response r = roundtrip(fd, get("/echo", "X-Big: " + std::string(2000, 'a') + "\r\n"));
  EXPECT_EQ(r.status, 431);
  EXPECT_EQ(lower(r.header("connection")), "close");
  EXPECT_TRUE(wait_eof(fd, 3000));
}

TEST_F(HttpLimits, TooManyHeadersGet431) {
  start_app(mode::base, {{"http_max_header_count", int64_t(10)}});
  std::string many;
  for (int i = 0; i < 20; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
  int fd = client();
  EXPECT_EQ(roundtrip(fd, get("/echo", many)).status, 431);
  EXPECT_TRUE(wait_eof(fd, 3000));
}

TEST_F(HttpLimits, RoundRobinDispatchBecomesFdModulo) {
  start_app(mode::process, {{"dispatch_mode", int64_t(1)}, {"log_level", int64_t(2)}, {"log_file", dir + "/log"}});
  int fd = client();
  std::string buf, first;
  for (int i = 0; i < 4; ++i) {  // each request in pieces: one parser must see them all
    std::string req = get("/fd");
    for (size_t at = 0; at < req.size(); at += 7) {
      ASSERT_TRUE(send_all(fd, req.substr(at, 7)));
      std::this_thread::sleep_for(5ms);
    }
    response r = read_response(fd, buf);
    ASSERT_EQ(r.status, 200) << i;
    if (i == 0) first = r.body;
    EXPECT_EQ(r.body, first);
  }
  EXPECT_NE(read_file(dir + "/log").find("dispatch_mode 1 spreads a connection over workers; using 2"),
            std::string::npos)
      << read_file(dir + "/log");
}

TEST_F(HttpLimits, GarbageGets400AndTheClose) {
  start_app(mode::base);
  int fd = client();
  response r = roundtrip(fd, "HELLO THERE\r\n\r\n");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(lower(r.header("connection")), "close");
  EXPECT_TRUE(wait_eof(fd, 3000));
  int fd2 = client();  // the server itself is fine
  EXPECT_EQ(roundtrip(fd2, get("/echo")).status, 200);
}

TEST_F(HttpLimits, BodyOverPackageMaxLengthGets413) {
  start_app(mode::process, {{"package_max_length", int64_t(1000)}});
  int fd = client();
  response r = roundtrip(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + std::string(5000, 'x'));
  EXPECT_EQ(r.status, 413);
  EXPECT_TRUE(wait_eof(fd, 3000));
  int fd2 = client();  // a chunked body over the limit too
  std::string chunks;
  for (int i = 0; i < 3; ++i) chunks += "190\r\n" + std::string(400, 'y') + "\r\n";
  response c = roundtrip(fd2, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + "0\r\n\r\n");
  EXPECT_EQ(c.status, 413);
}

TEST_F(HttpLimits, Expect100ContinueThenTheBody) {
  start_app(mode::process, {{"package_max_length", int64_t(100)}});
  int fd = client();
  std::string buf;
  ASSERT_TRUE(send_all(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  response cont = read_response(fd, buf);
  ASSERT_TRUE(cont.ok);
  EXPECT_EQ(cont.status, 100);
  ASSERT_TRUE(send_all(fd, "hello"));
  response r = read_response(fd, buf);
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(has_line(r.body, "body=hello")) << r.body;
  // Over the limit: 413 at once, no 100.
  int fd2 = client();
  response big = roundtrip(fd2, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(big.status, 413);
}

TEST_F(HttpLimits, SlowlorisIsClosedAfterTheHeaderTimeoutWhileOthersAreServed) {
  start_app(mode::process, {{"http_header_timeout", 1.0}, {"worker_num", int64_t(1)}});
  int slow = client();
  int other = client();
  std::string buf;
  std::string head = "GET /echo HTTP/1.1\r\nHost: x\r\nX-Slow: ";
  int64_t t0 = now_ms();
  int64_t closed_at = -1;
  int answered = 0;
  for (size_t i = 0; now_ms() - t0 < 3000; ++i) {
    char b = i < head.size() ? head[i] : 'a';
    if (send(slow, &b, 1, MSG_NOSIGNAL) != 1) {
      closed_at = now_ms() - t0;
      break;
    }
    pollfd p{slow, POLLIN, 0};
    if (poll(&p, 1, 0) > 0) {
      char tmp[256];
      if (recv(slow, tmp, sizeof tmp, MSG_DONTWAIT) <= 0) {
        closed_at = now_ms() - t0;
        break;
      }
    }
    ASSERT_TRUE(send_all(other, get("/fd")));
    if (read_response(other, buf, false, 1000).status == 200) ++answered;
    std::this_thread::sleep_for(200ms);
  }
  ASSERT_GT(closed_at, 0) << "the slow client was never closed";
  EXPECT_GE(closed_at, 900);
  EXPECT_LE(closed_at, 2000);
  EXPECT_GE(answered, 4);
  ASSERT_TRUE(send_all(other, get("/fd")));  // the other connection is untouched
  EXPECT_EQ(read_response(other, buf).status, 200);
}

TEST_F(HttpLimits, IdleKeepAliveConnectionIsClosed) {
  start_app(mode::base, {{"http_idle_timeout", 1.0}});
  int fd = client();
  ASSERT_EQ(roundtrip(fd, get("/echo")).status, 200);
  int64_t t0 = now_ms();
  EXPECT_TRUE(wait_eof(fd, 4000));
  int64_t idle = now_ms() - t0;
  EXPECT_GE(idle, 800);
  EXPECT_LE(idle, 2500);
}

TEST_F(HttpLimits, HttpsOnATlsPort) {
  std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -keyout '" + dir +
                    "/key.pem' -out '" + dir + "/cert.pem' >/dev/null 2>&1";
  ASSERT_EQ(system(cmd.c_str()), 0);
  pid_t pid = fork_http<http_server>(port, mode::process, [&](http_server& s) {
    s.set({{"worker_num", int64_t(2)}, {"log_level", int64_t(4)}, {"ssl_cert_file", dir + "/cert.pem"},
           {"ssl_key_file", dir + "/key.pem"}});
    s.on_request = [](http_request& req, http_response& resp) { resp.end("secure " + std::string(req.path())); };
  });
  servers.push_back(pid);
  std::string script = dir + "/client.py";
  write_file(script,
             "import socket, ssl, sys, time\n"
             "ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)\n"
             "ctx.check_hostname = False\n"
             "ctx.verify_mode = ssl.CERT_NONE\n"
             "for i in range(100):\n"
             "    try:\n"
             "        raw = socket.create_connection(('127.0.0.1', int(sys.argv[1])))\n"
             "        break\n"
             "    except OSError:\n"
             "        time.sleep(0.05)\n"
             "s = ctx.wrap_socket(raw)\n"
             "out = b''\n"
             "for path in ('/one', '/two'):\n"
             "    s.sendall(b'GET ' + path.encode() + b' HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n')\n"
             "    data = b''\n"
             "    while not data.endswith(path.encode()):\n"
             "        chunk = s.recv(4096)\n"
             "        if not chunk: break\n"
             "        data += chunk\n"
             "    out += data.split(b'\\r\\n')[0] + b' | ' + data.split(b'\\r\\n\\r\\n', 1)[1] + b'\\n'\n"
             "print(out.decode(), end='')\n");
  std::string out = run("timeout 20 python3 '" + script + "' " + std::to_string(port));
  EXPECT_EQ(out, "HTTP/1.1 200 OK | secure /one\nHTTP/1.1 200 OK | secure /two\n");
}

}  // namespace
