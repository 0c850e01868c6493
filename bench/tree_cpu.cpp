// tern_tree_cpu PID: prints the CPU seconds (utime + stime) used so far by PID
// and every process below it, from /proc (bench/proc_cpu.hpp, as
// tern_load_client --server-tree counts it). For benchmarks driven by another
// load generator (wrk): read it before and after the run. Exit 1 if PID is gone.
#include <cstdio>
#include <cstdlib>

#include "proc_cpu.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: tern_tree_cpu PID\n");
    return 2;
  }
  std::optional<double> s = bench::tree_cpu_seconds(std::strtol(argv[1], nullptr, 10));
  if (!s) {
    std::fprintf(stderr, "tern_tree_cpu: no process %s\n", argv[1]);
    return 1;
  }
  std::printf("%.2f\n", *s);
  return 0;
}
