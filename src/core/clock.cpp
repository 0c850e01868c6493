#include "core/clock.hpp"

#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define TERN_HAVE_TSC 1
#endif

namespace tern {

uint64_t cycle_now() {
#ifdef TERN_HAVE_TSC
  return __rdtsc();
#else
  return monotonic_ns();
#endif
}

double nanoseconds_per_cycle() {
#ifdef TERN_HAVE_TSC
  static const double factor = [] {
    uint64_t ns0 = monotonic_ns(), c0 = __rdtsc();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    uint64_t ns1 = monotonic_ns(), c1 = __rdtsc();
    return c1 > c0 ? double(ns1 - ns0) / double(c1 - c0) : 1.0;
  }();
  return factor;
#else
  return 1.0;
#endif
}

}  // namespace tern
