// tern_echo_server: a minimal tern::server echo (on_receive sends the packet
// back), for tests and benchmarks.
//
//   tern_echo_server host port [process|base] [worker_num] [length]
//
// `length` (or 1) frames packets with a 4-byte big-endian length header
// (open_length_check, package_length_type 'N', body after the header); the
// reply carries the same header. Without it every read is echoed as it came.
// SIGTERM or ^C stops it.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "tern/server/server.hpp"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s host port [process|base] [worker_num] [length]\n", argv[0]);
    return 2;
  }
  std::string host = argv[1];
  int port = std::atoi(argv[2]);
  std::string mode_name = argc > 3 ? argv[3] : "process";
  if (mode_name != "process" && mode_name != "base") {
    std::fprintf(stderr, "mode must be process or base, not %s\n", mode_name.c_str());
    return 2;
  }
  int workers = argc > 4 ? std::atoi(argv[4]) : 2;
  bool length = argc > 5 && (std::strcmp(argv[5], "length") == 0 || std::strcmp(argv[5], "1") == 0);

  using namespace tern::server;
  server s(host, port, mode_name == "base" ? mode::base : mode::process);
  setting_map set{{"worker_num", int64_t(workers)}, {"log_level", int64_t(2)}};
  if (length) {
    set["open_length_check"] = true;
    set["package_length_type"] = std::string("N");
    set["package_length_offset"] = int64_t(0);
    set["package_body_offset"] = int64_t(4);
  }
  if (!s.set(set)) {
    std::fprintf(stderr, "set: %s\n", s.error().c_str());
    return 2;
  }
  s.on_receive = [](server& srv, int fd, int, std::string_view data) { srv.send(fd, data); };
  if (!s.start()) {
    std::fprintf(stderr, "start: %s\n", s.error().c_str());
    return 1;
  }
  return 0;
}
