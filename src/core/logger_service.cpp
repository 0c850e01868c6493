// The built-in logger service (skynet's logger): every log line of the node
// arrives here as a text message and is written in arrival order, to stdout or
// to the file named by the `logger` config key. A system message (sent on
// SIGHUP) reopens the file, for logrotate.
#include <fmt/format.h>

#include <iterator>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include "core/clock.hpp"
#include "tern/core/service.hpp"

namespace tern {
namespace {

class logger_service : public service {
 public:
  ~logger_service() override {
    if (file_ && file_ != stdout) std::fclose(file_);
  }

  bool init(std::string_view args) override {
    path_ = std::string(args);
    if (path_.empty()) {
      file_ = stdout;
      return true;
    }
    file_ = std::fopen(path_.c_str(), "a");
    if (!file_) throw std::runtime_error(fmt::format("can't open log file {}: {}", path_, std::strerror(errno)));
    return true;
  }

  void on_message(const message& m) override {
    if (m.type == ptype::system) {
      reopen();
      return;
    }
    // One fwrite per line: other threads (Lua's print) share stdout, and a
    // line written in pieces could be cut by theirs.
    fmt::memory_buffer line;
    if (file_ != stdout) append_time(line);
    fmt::format_to(std::back_inserter(line), "[:{:08x}] ", m.source);
    line.append(m.view());
    line.push_back('\n');
    std::fwrite(line.data(), 1, line.size(), file_);
    std::fflush(file_);
  }

 private:
  static void append_time(fmt::memory_buffer& out) {
    uint64_t cs = wall_cs();
    time_t seconds = time_t(cs / 100);
    struct tm tm_buf {};
    localtime_r(&seconds, &tm_buf);
    char text[32];
    std::strftime(text, sizeof text, "%m/%d/%y %H:%M:%S", &tm_buf);  // skynet: "%D %T"
    fmt::format_to(std::back_inserter(out), "{}.{:02d} ", text, int(cs % 100));
  }

  void reopen() {
    if (file_ == stdout) return;
    if (FILE* f = std::freopen(path_.c_str(), "a", file_)) {
      file_ = f;
    } else {
      file_ = stdout;  // better than losing lines
      fmt::print(file_, "[logger] can't reopen {}: {}\n", path_, std::strerror(errno));
    }
  }

  std::string path_;
  FILE* file_ = nullptr;
};

}  // namespace
}  // namespace tern

TERN_REGISTER_SERVICE(logger, tern::logger_service)
