// Helpers for the tern::server tests: a server in a forked child (its own
// process group, so TearDown can always kill everything), clients with
// timeouts, process lookups through /proc.
#pragma once

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tern/server/server.hpp"

namespace server_test {

using namespace std::chrono_literals;
using tern::server::mode;
using tern::server::server;
using tern::server::setting_map;

inline int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A port nobody listens on right now.
inline int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  close(fd);
  return port;
}

// A fresh directory under /tmp, removed by the fixture.
inline std::string make_temp_dir() {
  char tmpl[] = "/tmp/tern_server_test.XXXXXX";
  const char* d = mkdtemp(tmpl);
  return d ? d : "/tmp";
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void append_file(const std::string& path, const std::string& text) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd < 0) return;
  ssize_t ignored = write(fd, text.data(), text.size());
  (void)ignored;
  close(fd);
}

inline bool alive(pid_t pid) { return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); }

// The children of a process, from /proc.
inline std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> out;
  DIR* d = opendir("/proc");
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    char* end = nullptr;
    long pid = strtol(e->d_name, &end, 10);
    if (!end || *end || pid <= 0) continue;
    std::string stat = read_file(std::string("/proc/") + e->d_name + "/stat");
    size_t paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    char state = 0;
    long ppid = 0;
    if (sscanf(stat.c_str() + paren + 1, " %c %ld", &state, &ppid) == 2 && ppid == parent && state != 'Z')
      out.push_back(pid_t(pid));
  }
  closedir(d);
  return out;
}

// Waits until `pred` holds, up to timeout.
template <class P>
bool eventually(P pred, std::chrono::milliseconds timeout = 5000ms) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

// --- clients -------------------------------------------------------------------

inline int connect_to(int port, std::chrono::milliseconds timeout = 5000ms) {
  auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(uint16_t(port));
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      return fd;
    }
    close(fd);
    if (std::chrono::steady_clock::now() > end) return -1;
    std::this_thread::sleep_for(10ms);
  }
}

inline bool send_all(int fd, std::string_view data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    off += size_t(n);
  }
  return true;
}

// Reads exactly n bytes (or less on EOF/timeout).
inline std::string recv_n(int fd, size_t n, int timeout_ms = 5000) {
  std::string out;
  int64_t end = now_ms() + timeout_ms;
  char buf[65536];
  while (out.size() < n) {
    int64_t left = end - now_ms();
    if (left <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, int(left)) <= 0) continue;
    ssize_t r = recv(fd, buf, std::min(sizeof buf, n - out.size()), 0);
    if (r <= 0) break;
    out.append(buf, size_t(r));
  }
  return out;
}

// Reads until `stop` appears at the end of what was read (or EOF/timeout).
inline std::string recv_until(int fd, std::string_view stop, int timeout_ms = 5000) {
  std::string out;
  int64_t end = now_ms() + timeout_ms;
  char c;
  while (!(out.size() >= stop.size() && std::string_view(out).substr(out.size() - stop.size()) == stop)) {
    int64_t left = end - now_ms();
    if (left <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, int(left)) <= 0) continue;
    if (recv(fd, &c, 1, 0) != 1) break;
    out.push_back(c);
  }
  return out;
}

// True if the peer closed (EOF or reset) within the timeout; data before it is skipped.
inline bool wait_eof(int fd, int timeout_ms = 5000) {
  int64_t end = now_ms() + timeout_ms;
  char buf[4096];
  for (;;) {
    int64_t left = end - now_ms();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, int(left)) <= 0) continue;
    ssize_t r = recv(fd, buf, sizeof buf, 0);
    if (r == 0) return true;
    if (r < 0 && errno != EINTR && errno != EAGAIN) return true;
  }
}

// A request and the reply to it (an unframed server: one read is one packet).
inline std::string ask(int fd, std::string_view request, std::string_view reply_end = "\n", int timeout_ms = 5000) {
  if (!send_all(fd, request)) return "<send failed>";
  return recv_until(fd, reply_end, timeout_ms);
}

// 4-byte big-endian length, then the body.
inline std::string length_packet(std::string_view body) {
  uint32_t n = htonl(uint32_t(body.size()));
  std::string out(reinterpret_cast<const char*>(&n), 4);
  out.append(body);
  return out;
}

// --- the server under test -----------------------------------------------------------

// Forks a child that builds a server (host 127.0.0.1, `port`), lets `setup`
// configure it and calls start(); the child exits 0 if start() returned true,
// 3 if it returned false (after writing error() to `error_file`, if given).
inline pid_t fork_server(int port, mode m, const std::function<void(server&)>& setup,
                         const std::string& error_file = {}) {
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    int rc = 0;
    {
      server s("127.0.0.1", port, m);
      setup(s);
      if (!s.start()) {
        if (!error_file.empty()) append_file(error_file, s.error());
        fprintf(stderr, "start failed: %s\n", s.error().c_str());
        rc = 3;
      }
    }
    _exit(rc);
  }
  return pid;
}

// SIGTERM, wait for a clean exit (returns the exit status, or -1 if it had to
// be killed), then SIGKILL whatever is left in its process group.
inline int stop_server(pid_t pid, int timeout_ms = 8000) {
  if (pid <= 0) return -1;
  kill(pid, SIGTERM);
  int status = 0, result = -1;
  int64_t end = now_ms() + timeout_ms;
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      result = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      break;
    }
    if (r < 0 || now_ms() > end) {
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(5ms);
  }
  kill(-pid, SIGKILL);  // anything of the group still there (there should be nothing)
  return result;
}

// Fixture: the server's pid and a temp dir, both cleaned up in TearDown.
class ServerFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = make_temp_dir();
    port = free_port();
  }
  void TearDown() override {
    for (int fd : clients) close(fd);
    clients.clear();
    for (pid_t p : servers) stop_server(p);
    servers.clear();
    std::string cmd = "rm -rf '" + dir + "'";
    if (dir.rfind("/tmp/tern_server_test.", 0) == 0) {
      int ignored = system(cmd.c_str());
      (void)ignored;
    }
  }

  pid_t start(mode m, const std::function<void(server&)>& setup, int on_port = 0,
              const std::string& error_file = {}) {
    pid_t pid = fork_server(on_port ? on_port : port, m, setup, error_file);
    servers.push_back(pid);
    return pid;
  }

  int client() {
    int fd = connect_to(port);
    if (fd >= 0) clients.push_back(fd);
    return fd;
  }

  // The manager (the master's one child) and the workers (the manager's children).
  pid_t manager_of(pid_t master) {
    std::vector<pid_t> kids;
    eventually([&] {
      kids = children_of(master);
      return kids.size() == 1;
    });
    return kids.size() == 1 ? kids[0] : -1;
  }
  std::vector<pid_t> workers_of(pid_t master, size_t n) {
    pid_t mgr = manager_of(master);
    std::vector<pid_t> kids;
    eventually([&] {
      kids = children_of(mgr);
      return kids.size() == n;
    });
    return kids;
  }

  std::string dir;
  int port = 0;
  std::vector<pid_t> servers;
  std::vector<int> clients;
};

}  // namespace server_test
