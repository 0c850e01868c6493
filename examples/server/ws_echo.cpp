// tern_ws_echo: a WebSocket echo server for benchmarks: every text or binary
// message comes back as it came.
//
//   tern_ws_echo [--host H] [--port N] [--mode process|base] [--workers N]
//
// SIGTERM or ^C stops it.
#include "example_args.hpp"
#include "tern/server/http.hpp"

int main(int argc, char** argv) {
  example_args args;
  if (!args.parse(argc, argv)) return 2;
  using namespace tern::server;
  websocket_server s(args.host, args.port, args.base ? mode::base : mode::process);
  if (!s.set({{"worker_num", int64_t(args.workers)}, {"log_level", int64_t(4)}})) {
    std::fprintf(stderr, "set: %s\n", s.error().c_str());
    return 2;
  }
  s.on_message = [](websocket_server& srv, ws_frame& f) { srv.push(f.fd, f.data, f.opcode); };
  if (!s.start()) {
    std::fprintf(stderr, "start: %s\n", s.error().c_str());
    return 1;
  }
  return 0;
}
