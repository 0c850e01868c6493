// Small helpers shared by the unit tests.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <vector>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace tern::test {

// A fresh directory under /tmp, removed when the test program exits.
inline std::string temp_dir() {
  struct registry {
    std::vector<std::string> dirs;
    ~registry() {
      std::error_code ignored;
      for (auto& d : dirs) std::filesystem::remove_all(d, ignored);
    }
  };
  static registry made_dirs;
  std::string pattern = "/tmp/tern-test-XXXXXX";
  if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  made_dirs.dirs.push_back(pattern);
  return pattern;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

// Polls pred every millisecond until it holds or the timeout passes.
template <class F>
bool eventually(F&& pred, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return pred();
}

}  // namespace tern::test
