// Command line of the HTTP / WebSocket examples: --host H --port N
// --mode process|base --workers N (defaults 127.0.0.1, 9501, process, 2).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

struct example_args {
  std::string host = "127.0.0.1";
  int port = 9501;
  bool base = false;
  int workers = 2;

  // False (after a usage line) on a bad argument.
  bool parse(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      const char* a = argv[i];
      const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
      if (!v) return usage(argv[0]);
      if (std::strcmp(a, "--host") == 0) {
        host = v;
      } else if (std::strcmp(a, "--port") == 0) {
        port = std::atoi(v);
      } else if (std::strcmp(a, "--workers") == 0) {
        workers = std::atoi(v);
      } else if (std::strcmp(a, "--mode") == 0 && (std::strcmp(v, "process") == 0 || std::strcmp(v, "base") == 0)) {
        base = std::strcmp(v, "base") == 0;
      } else {
        return usage(argv[0]);
      }
      ++i;
    }
    return port > 0 && port < 65536 && workers > 0 ? true : usage(argv[0]);
  }

  static bool usage(const char* prog) {
    std::fprintf(stderr, "usage: %s [--host H] [--port N] [--mode process|base] [--workers N]\n", prog);
    return false;
  }
};
