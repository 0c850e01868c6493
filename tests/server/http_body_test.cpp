// The HTTP server's helpers without a server: url-decoding, query strings,
// cookies, multipart bodies (http_body), Range, dates, MIME types and the
// static handler's path check (http_static).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "server/http_body.hpp"
#include "server/http_static.hpp"

namespace tern::server {
namespace {

TEST(HttpBody, UrlDecodeAndEncode) {
  EXPECT_EQ(http_body::url_decode("a%20b+c%2Bd%zz%4", true), "a b c+d%zz%4");
  EXPECT_EQ(http_body::url_decode("a+b", false), "a+b");
  EXPECT_EQ(http_body::url_encode("x y;z/~"), "x%20y%3Bz%2F~");
}

TEST(HttpBody, QueryAndCookies) {
  std::map<std::string, std::string> q;
  http_body::parse_query("a=1&&b=x+y&c&a=2&=skip", q);
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q["a"], "2");
  EXPECT_EQ(q["b"], "x y");
  EXPECT_EQ(q["c"], "");
  std::map<std::string, std::string> c;
  http_body::parse_cookies(" a=1; b=\"quoted\" ;c=x%20y; a=late", c);
  EXPECT_EQ(c["a"], "1");  // the first wins
  EXPECT_EQ(c["b"], "quoted");
  EXPECT_EQ(c["c"], "x y");
  EXPECT_EQ(http_body::header_param("multipart/form-data; charset=x; boundary=\"a;b\"", "boundary"), "a;b");
  EXPECT_EQ(http_body::header_param("text/plain", "boundary"), "");
}

TEST(HttpBody, MultipartFieldsFilesAndLimits) {
  char tmpl[] = "/tmp/tern_http_body.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  std::string body =
      "preamble\r\n--B\r\nContent-Disposition: form-data; name=\"f1\"\r\n\r\nv1\r\n"
      "--B\r\nContent-Disposition: form-data; name=\"up\"; filename=\"x.bin\"\r\nContent-Type: application/x\r\n\r\n"
      "0123456789\r\n"
      "--B\r\nContent-Disposition: form-data; name=\"big\"; filename=\"big.bin\"\r\n\r\n" +
      std::string(100, 'b') +
      "\r\n--B\r\nContent-Disposition: form-data; name=\"none\"; filename=\"\"\r\n\r\n\r\n--B--\r\n";
  http_body::multipart_limits lim;
  lim.tmp_dir = dir;
  lim.max_file = 50;
  std::map<std::string, std::string> post;
  std::map<std::string, uploaded_file> files;
  std::vector<std::string> tmp;
  ASSERT_TRUE(http_body::parse_multipart(body, "B", lim, post, files, tmp));
  EXPECT_EQ(post["f1"], "v1");
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files["up"].name, "x.bin");
  EXPECT_EQ(files["up"].type, "application/x");
  EXPECT_EQ(files["up"].size, 10);
  EXPECT_EQ(files["up"].error, 0);
  std::ifstream in(files["up"].tmp_name);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "0123456789");
  EXPECT_EQ(files["big"].error, 1);
  EXPECT_TRUE(files["big"].tmp_name.empty());
  EXPECT_EQ(files["none"].error, 4);
  ASSERT_EQ(tmp.size(), 1u);
  EXPECT_EQ(tmp[0].rfind(dir + "/swoole.upfile.", 0), 0u);
  for (auto& p : tmp) unlink(p.c_str());
  // Truncated: what came before stays, false.
  post.clear();
  files.clear();
  EXPECT_FALSE(http_body::parse_multipart("--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--B\r\nCont",
                                          "B", lim, post, files, tmp));
  EXPECT_EQ(post["a"], "1");
  rmdir(dir.c_str());
}

TEST(HttpStatic, Ranges) {
  using r = http_static::byte_range;
  auto pr = [](const char* h) { return http_static::parse_range(h, 1000); };
  EXPECT_EQ(pr("bytes=0-99").what, r::ok);
  EXPECT_EQ(pr("bytes=0-99").last, 99);
  EXPECT_EQ(pr("bytes=900-").first, 900);
  EXPECT_EQ(pr("bytes=900-").last, 999);
  EXPECT_EQ(pr("bytes=990-5000").last, 999);
  EXPECT_EQ(pr("bytes=-10").first, 990);
  EXPECT_EQ(pr("bytes=-5000").first, 0);
  EXPECT_EQ(pr("bytes=1000-").what, r::unsatisfiable);
  EXPECT_EQ(pr("bytes=-0").what, r::unsatisfiable);
  EXPECT_EQ(pr("bytes=5-1").what, r::none);
  EXPECT_EQ(pr("bytes=0-1,5-6").what, r::none);
  EXPECT_EQ(pr("items=0-1").what, r::none);
  EXPECT_EQ(pr("bytes=a-b").what, r::none);
}

TEST(HttpStatic, DatesAndTypes) {
  EXPECT_EQ(http_static::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
  EXPECT_EQ(http_static::parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777);
  EXPECT_EQ(http_static::parse_http_date("Sun Nov  6 08:49:37 1994"), 784111777);
  EXPECT_EQ(http_static::parse_http_date("yesterday"), -1);
  EXPECT_EQ(http_static::mime_type("/a/b.HTML"), "text/html");
  EXPECT_EQ(http_static::mime_type("x.json"), "application/json");
  EXPECT_EQ(http_static::mime_type("/a.b/noext"), "application/octet-stream");
}

TEST(HttpStatic, ResolveStaysUnderTheRoot) {
  char tmpl[] = "/tmp/tern_http_static.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string top = tmpl;
  mkdir((top + "/www").c_str(), 0755);
  std::ofstream(top + "/www/a.txt") << "a";
  std::ofstream(top + "/out.txt") << "out";
  ASSERT_EQ(symlink((top + "/out.txt").c_str(), (top + "/www/link").c_str()), 0);
  char real[PATH_MAX];
  ASSERT_NE(realpath((top + "/www").c_str(), real), nullptr);
  std::string root = real;
  using k = http_static::resolved;
  EXPECT_EQ(http_static::resolve(root, "/a.txt").what, k::file);
  EXPECT_EQ(http_static::resolve(root, "/a%2Etxt").what, k::file);
  EXPECT_EQ(http_static::resolve(root, "/missing").what, k::not_found);
  EXPECT_EQ(http_static::resolve(root, "/").what, k::not_found);  // a directory
  EXPECT_EQ(http_static::resolve(root, "/../out.txt").what, k::forbidden);
  EXPECT_EQ(http_static::resolve(root, "/%2e%2e/out.txt").what, k::forbidden);
  EXPECT_EQ(http_static::resolve(root, "/x/..").what, k::forbidden);
  EXPECT_EQ(http_static::resolve(root, "/link").what, k::forbidden);
  EXPECT_EQ(http_static::resolve(root, "/a.txt%00.png").what, k::forbidden);
  std::string cmd = "rm -rf '" + top + "'";
  EXPECT_EQ(system(cmd.c_str()), 0);
}

}  // namespace
}  // namespace tern::server
