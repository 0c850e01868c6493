// tern_http_hello: the hello-world HTTP server for benchmarks (make bench
// SUITE=http): every request gets "Hello, World!" as text/plain.
//
//   tern_http_hello [--host H] [--port N] [--mode process|base] [--workers N]
//
// SIGTERM or ^C stops it.
#include "example_args.hpp"
#include "tern/server/http.hpp"

int main(int argc, char** argv) {
  example_args args;
  if (!args.parse(argc, argv)) return 2;
  using namespace tern::server;
  http_server s(args.host, args.port, args.base ? mode::base : mode::process);
  if (!s.set({{"worker_num", int64_t(args.workers)}, {"log_level", int64_t(4)}})) {
    std::fprintf(stderr, "set: %s\n", s.error().c_str());
    return 2;
  }
  s.on_request = [](http_request&, http_response& resp) {
    resp.header("Content-Type", "text/plain");
    resp.end("Hello, World!");
  };
  if (!s.start()) {
    std::fprintf(stderr, "start: %s\n", s.error().c_str());
    return 1;
  }
  return 0;
}
