// Shared by the benchmark programs of tern and of its peers (header only, so
// a peer does not link tern): case selection, scaling, RSS, JSON lines.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace bench {

// BENCH_SCALE (default 1) shrinks or grows every count, for smoke runs.
inline double scale() {
  static const double s = [] {
    const char* v = std::getenv("BENCH_SCALE");
    return v ? std::atof(v) : 1.0;
  }();
  return s;
}
inline long scaled(long n) { return std::max(1L, long(double(n) * scale())); }

inline size_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * size_t(sysconf(_SC_PAGESIZE));
}

// One line per case and implementation: {"bench", "impl", "value", "unit"}.
inline void report(const char* impl, const char* name, double value, const char* unit) {
  std::printf("{\"bench\": \"%s\", \"impl\": \"%s\", \"value\": %.6g, \"unit\": \"%s\"}\n", name, impl,
              value, unit);
  std::fflush(stdout);
}

using case_list = std::vector<std::pair<std::string, std::function<void()>>>;

// Runs the cases named on the command line, or all of them.
inline void run(int argc, char** argv, const case_list& cases) {
  for (const auto& [name, body] : cases) {
    bool wanted = argc == 1;
    for (int i = 1; i < argc; ++i) wanted |= name == argv[i];
    if (wanted) body();
  }
}

}  // namespace bench
