#include "core/daemon.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace tern {

namespace {
// The pid recorded in the file if that process is still alive, else 0.
pid_t live_pid(const std::string& pid_file) {
  FILE* f = std::fopen(pid_file.c_str(), "r");
  if (!f) return 0;
  int pid = 0;
  int n = std::fscanf(f, "%d", &pid);
  std::fclose(f);
  if (n != 1 || pid <= 0 || pid == getpid()) return 0;
  if (::kill(pid, 0) == 0 || errno == EPERM) return pid;
  return 0;
}
}  // namespace

void daemonize(const std::string& pid_file) {
  if (pid_t pid = live_pid(pid_file))
    throw std::runtime_error(fmt::format("already running: pid file {} names live process {}", pid_file, pid));
  if (::daemon(1, 1) != 0) throw std::runtime_error(fmt::format("daemon(): {}", std::strerror(errno)));

  int fd = ::open(pid_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(fmt::format("can't create pid file {}: {}", pid_file, std::strerror(errno)));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    throw std::runtime_error(fmt::format("can't lock pid file {}: another node holds it", pid_file));
  }
  std::string text = fmt::format("{}\n", getpid());
  if (::ftruncate(fd, 0) != 0 || ::write(fd, text.data(), text.size()) != ssize_t(text.size())) {
    ::close(fd);
    throw std::runtime_error(fmt::format("can't write pid file {}: {}", pid_file, std::strerror(errno)));
  }
  // fd stays open (and locked) for the life of the process.

  int null = ::open("/dev/null", O_RDWR);
  if (null >= 0) {
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    if (null > 2) ::close(null);
  }
}

}  // namespace tern
