// Candidate HTTP/1.1 request parsers for src/http (issue 6), Google Benchmark:
// libhttp-parser (libhttp-parser-dev, C, callbacks) against Boost.Beast's
// http::request_parser (libboost-dev, header-only), on a GET with 8 headers and
// a POST with a 1 KiB body, one request and 16 pipelined requests per buffer.
// Both collect what tern's wrapper needs: method, target, headers (copied),
// body (copied). Results: docs/http.md.
#include <benchmark/benchmark.h>
#include <http_parser.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace {

const std::string kGet =
    "GET /api/v1/users/42?fields=name,email HTTP/1.1\r\n"
    "Host: example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Connection: keep-alive\r\n"
    "Cookie: session=0123456789abcdef0123456789abcdef; theme=dark\r\n"
    "Cache-Control: max-age=0\r\n"
    "\r\n";

std::string make_post() {
  std::string body(1024, 'x');
  return "POST /api/v1/upload HTTP/1.1\r\n"
         "Host: example.com\r\n"
         "Content-Type: application/octet-stream\r\n"
         "Content-Length: 1024\r\n"
         "\r\n" +
         body;
}
const std::string kPost = make_post();

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

// --- libhttp-parser ---------------------------------------------------------
struct Collected {
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool in_value = false;
  int complete = 0;
};

int on_url(http_parser* p, const char* at, size_t n) {
  static_cast<Collected*>(p->data)->url.append(at, n);
  return 0;
}
int on_field(http_parser* p, const char* at, size_t n) {
  auto* c = static_cast<Collected*>(p->data);
  if (c->in_value || c->headers.empty()) c->headers.emplace_back();
  c->in_value = false;
  c->headers.back().first.append(at, n);
  return 0;
}
int on_value(http_parser* p, const char* at, size_t n) {
  auto* c = static_cast<Collected*>(p->data);
  c->in_value = true;
  c->headers.back().second.append(at, n);
  return 0;
}
int on_body(http_parser* p, const char* at, size_t n) {
  static_cast<Collected*>(p->data)->body.append(at, n);
  return 0;
}
int on_begin(http_parser* p) {
  auto* c = static_cast<Collected*>(p->data);
  c->url.clear();
  c->headers.clear();
  c->body.clear();
  c->in_value = false;
  return 0;
}
int on_complete(http_parser* p) {
  ++static_cast<Collected*>(p->data)->complete;
  return 0;
}

void bench_http_parser(benchmark::State& state, const std::string& buf, int n) {
  http_parser_settings settings;
  http_parser_settings_init(&settings);
  settings.on_message_begin = on_begin;
  settings.on_url = on_url;
  settings.on_header_field = on_field;
  settings.on_header_value = on_value;
  settings.on_body = on_body;
  settings.on_message_complete = on_complete;
  Collected c;
  for (auto _ : state) {
    http_parser p;
    http_parser_init(&p, HTTP_REQUEST);
    p.data = &c;
    c.complete = 0;
    size_t used = http_parser_execute(&p, &settings, buf.data(), buf.size());
    if (used != buf.size() || c.complete != n) state.SkipWithError("http_parser failed");
    benchmark::DoNotOptimize(c.body.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(buf.size()));
  state.SetItemsProcessed(int64_t(state.iterations()) * n);
}

// --- Boost.Beast ------------------------------------------------------------
namespace http = boost::beast::http;

void bench_beast(benchmark::State& state, const std::string& buf, int n) {
  for (auto _ : state) {
    size_t off = 0;
    int complete = 0;
    while (off < buf.size()) {
      http::request_parser<http::string_body> p;
      p.eager(true);
      p.header_limit(64 * 1024);
      boost::system::error_code ec;
      size_t used = p.put(boost::asio::buffer(buf.data() + off, buf.size() - off), ec);
      if (ec || !p.is_done()) {
        state.SkipWithError("beast failed");
        break;
      }
      off += used;
      auto msg = p.release();
      // Copy the header list as the wrapper would (names/values as strings).
      std::vector<std::pair<std::string, std::string>> headers;
      for (auto const& f : msg)
        headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
      benchmark::DoNotOptimize(headers.data());
      benchmark::DoNotOptimize(msg.body().data());
      ++complete;
    }
    if (complete != n) state.SkipWithError("beast count");
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(buf.size()));
  state.SetItemsProcessed(int64_t(state.iterations()) * n);
}

const std::string kGet16 = repeat(kGet, 16);
const std::string kPost16 = repeat(kPost, 16);

void BM_HttpParser_Get(benchmark::State& s) { bench_http_parser(s, kGet, 1); }
void BM_HttpParser_Get16(benchmark::State& s) { bench_http_parser(s, kGet16, 16); }
void BM_HttpParser_Post1K(benchmark::State& s) { bench_http_parser(s, kPost, 1); }
void BM_HttpParser_Post1K16(benchmark::State& s) { bench_http_parser(s, kPost16, 16); }
void BM_Beast_Get(benchmark::State& s) { bench_beast(s, kGet, 1); }
void BM_Beast_Get16(benchmark::State& s) { bench_beast(s, kGet16, 16); }
void BM_Beast_Post1K(benchmark::State& s) { bench_beast(s, kPost, 1); }
void BM_Beast_Post1K16(benchmark::State& s) { bench_beast(s, kPost16, 16); }

}  // namespace

BENCHMARK(BM_HttpParser_Get);
BENCHMARK(BM_Beast_Get);
BENCHMARK(BM_HttpParser_Get16);
BENCHMARK(BM_Beast_Get16);
BENCHMARK(BM_HttpParser_Post1K);
BENCHMARK(BM_Beast_Post1K);
BENCHMARK(BM_HttpParser_Post1K16);
BENCHMARK(BM_Beast_Post1K16);

BENCHMARK_MAIN();
