// Clocks used by the timer and by services (skynet's now/starttime/hpc).
#pragma once

#include <cstdint>
#include <ctime>

namespace tern {

// Monotonic nanoseconds, for hpc() and for measuring time spent in callbacks.
inline uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

// Monotonic centiseconds: the timer's tick source.
inline uint64_t monotonic_cs() { return monotonic_ns() / 10000000u; }

// Wall clock in centiseconds since the epoch.
inline uint64_t wall_cs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return uint64_t(ts.tv_sec) * 100u + uint64_t(ts.tv_nsec) / 10000000u;
}

// A cheap timestamp for measuring time spent in callbacks (profile): the CPU's
// time-stamp counter where there is one (a few ns, against ~25 ns for
// clock_gettime), converted with a factor measured once per process.
uint64_t cycle_now();
double nanoseconds_per_cycle();

}  // namespace tern
