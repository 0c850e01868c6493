// CPU time of a process or a process tree from /proc (utime + stime, all
// threads, 10 ms resolution). Shared by tern_load_client and tern_tree_cpu.
#pragma once

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>

namespace bench {

// utime + stime of a whole process (all its threads, live and exited), seconds.
inline std::optional<double> process_cpu_seconds(long pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/stat";
  FILE* f = std::fopen(path.c_str(), "re");
  if (!f) return std::nullopt;
  char buf[2048];
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  // The command name (field 2) is in parentheses and may hold spaces and ')'.
  const char* p = std::strrchr(buf, ')');
  if (!p) return std::nullopt;
  ++p;
  unsigned long long utime = 0, stime = 0;
  for (int field = 3; field <= 15; ++field) {
    while (*p == ' ') ++p;
    if (!*p) return std::nullopt;
    char* end = nullptr;
    unsigned long long x = std::strtoull(p, &end, 10);
    if (field == 14) utime = x;
    if (field == 15) stime = x;
    while (*p && *p != ' ') ++p;
  }
  return double(utime + stime) / double(sysconf(_SC_CLK_TCK));
}

// utime + stime of root and every process below it, from a scan of /proc.
inline std::optional<double> tree_cpu_seconds(long root) {
  struct proc { long ppid; double cpu; };
  std::map<long, proc> all;
  DIR* d = opendir("/proc");
  if (!d) return std::nullopt;
  while (dirent* e = readdir(d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end) continue;
    std::string path = "/proc/" + std::to_string(pid) + "/stat";
    FILE* f = std::fopen(path.c_str(), "re");
    if (!f) continue;
    char buf[2048];
    size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    buf[n] = '\0';
    const char* p = std::strrchr(buf, ')');
    if (!p) continue;
    unsigned long long fields[16] = {};
    ++p;
    for (int field = 3; field <= 15; ++field) {
      while (*p == ' ') ++p;
      char* fe = nullptr;
      fields[field] = std::strtoull(p, &fe, 10);
      while (*p && *p != ' ') ++p;
    }
    all[pid] = proc{long(fields[4]), double(fields[14] + fields[15]) / double(sysconf(_SC_CLK_TCK))};
  }
  closedir(d);
  if (!all.count(root)) return std::nullopt;
  double total = 0;
  for (auto& [pid, pr] : all) {
    for (long up = pid; up > 1;) {  // is root an ancestor (or the process itself)?
      if (up == root) {
        total += pr.cpu;
        break;
      }
      auto it = all.find(up);
      if (it == all.end()) break;
      up = it->second.ppid;
    }
  }
  return total;
}

}  // namespace bench
