// tern::server::server: the API, start(), the master's main thread and the
// manager process. docs/server.md describes the processes and threads.
//
// start() in the calling process (the master):
//   validate -> pid file -> bind + listen -> shared memory, worker socketpairs
//   -> block the signals -> fork the manager (no thread exists yet) ->
//   PROCESS: start the reactor threads; BASE: close the listening sockets
//   (the workers accept on their inherited copies) -> on_start -> main loop:
//   signals (signalfd), accept (PROCESS), heartbeat (PROCESS) -> SIGTERM:
//   stop accepting, SIGTERM to the manager, waitpid, stop the reactors (closes
//   the connections), on_shutdown, remove the pid file, return.
#include "server/server_impl.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <fstream>
#include <system_error>
#include <thread>

#include "server/manager.hpp"

namespace tern::server {

namespace {

std::string errno_text(int err) { return std::system_category().message(err); }

const char* level_name(int level) {
  switch (level) {
    case log_level::debug: return "DEBUG";
    case log_level::trace: return "TRACE";
    case log_level::info: return "INFO";
    case log_level::notice: return "NOTICE";
    case log_level::warning: return "WARNING";
    default: return "ERROR";
  }
}

bool process_alive(pid_t pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

// The pid a pid file names, or 0.
pid_t read_pid_file(const std::string& path) {
  std::ifstream in(path);
  long pid = 0;
  if (!(in >> pid) || pid <= 0 || pid > INT32_MAX) return 0;
  return pid_t(pid);
}

std::string host_port(const std::string& host, int port) {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

}  // namespace

int64_t now_ms() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// --- logging ---------------------------------------------------------------

std::string server::impl::role_name() const {
  switch (who) {
    case role::master: return "master";
    case role::manager: return "manager";
    case role::worker: return fmt::format("worker#{}", my_worker_id);
    case role::task_worker: return fmt::format("task_worker#{}", my_worker_id);
    case role::user_process: return fmt::format("process#{}", my_worker_id);
    default: return "server";
  }
}

void server::impl::log(int level, std::string_view msg) const {
  if (level < cfg.log_level) return;
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t{};
  localtime_r(&ts.tv_sec, &t);
  char when[32];
  strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &t);
  std::string line = fmt::format("[{}.{:03d} {} {}] {}\t{}\n", when, int(ts.tv_nsec / 1000000), role_name(),
                                 int(getpid()), level_name(level), msg);
  // One write per line (O_APPEND for a log file): lines of several processes do not mix.
  ssize_t ignored = ::write(log_fd, line.data(), line.size());
  (void)ignored;
}

bool server::impl::fail(std::string msg) {
  error = std::move(msg);
  return false;
}

// --- connections table -------------------------------------------------------

void connection_table::add(connection_ptr c) {
  auto& s = of(c->session);
  std::lock_guard lk(s.mu);
  s.map[c->session] = std::move(c);
}

connection_ptr connection_table::find(int session) const {
  auto& s = of(session);
  std::lock_guard lk(s.mu);
  auto it = s.map.find(session);
  return it == s.map.end() ? nullptr : it->second;
}

connection_ptr connection_table::remove(int session) {
  auto& s = of(session);
  std::lock_guard lk(s.mu);
  auto it = s.map.find(session);
  if (it == s.map.end()) return nullptr;
  connection_ptr c = std::move(it->second);
  s.map.erase(it);
  return c;
}

size_t connection_table::size() const {
  size_t n = 0;
  for (auto& s : shards_) {
    std::lock_guard lk(s.mu);
    n += s.map.size();
  }
  return n;
}

std::vector<connection_ptr> connection_table::all() const {
  std::vector<connection_ptr> out;
  for (auto& s : shards_) {
    std::lock_guard lk(s.mu);
    for (auto& [k, c] : s.map) out.push_back(c);
  }
  return out;
}

std::vector<int> connection_table::list(int start, int count) const {
  std::vector<int> ids;
  for (auto& s : shards_) {
    std::lock_guard lk(s.mu);
    for (auto& [k, c] : s.map)
      if (k > start) ids.push_back(k);
  }
  std::sort(ids.begin(), ids.end());
  if (count >= 0 && ids.size() > size_t(count)) ids.resize(size_t(count));
  return ids;
}

void connection_table::clear() {
  for (auto& s : shards_) {
    std::lock_guard lk(s.mu);
    s.map.clear();
  }
}

// --- the API -----------------------------------------------------------------

server::server(std::string host, int port, mode m, sock_type type) : impl_(std::make_unique<impl>(this)) {
  impl_->run_mode = m;
  listener l;
  l.host = std::move(host);
  l.port = port;
  l.type = type;
  impl_->listeners.push_back(std::move(l));
}

server::~server() {
  auto& d = *impl_;
  if (d.own_log_fd && d.log_fd >= 0) ::close(d.log_fd);
}

bool server::set(const setting_map& values) {
  if (impl_->started) return impl_->fail("set() after start()");
  std::string err;
  if (!apply(impl_->cfg, values, &err)) return impl_->fail(err);
  return true;
}

const settings& server::settings() const { return impl_->cfg; }
const std::string& server::error() const { return impl_->error; }

listener& server::add_listener(std::string host, int port, sock_type type) {
  listener l;
  l.host = std::move(host);
  l.port = port;
  l.type = type;
  impl_->listeners.push_back(std::move(l));
  return impl_->listeners.back();
}

// add_process() and is_task_worker() are in server_task.cpp.
int server::worker_id() const { return impl_->my_worker_id; }
pid_t server::worker_pid() const {
  role r = impl_->who;
  return r == role::worker || r == role::task_worker || r == role::user_process ? getpid() : 0;
}
pid_t server::master_pid() const { return impl_->my_master_pid; }
pid_t server::manager_pid() const { return impl_->my_manager_pid; }

bool server::reload(bool only_task_workers) {
  auto& d = *impl_;
  if (!d.started || d.my_manager_pid <= 0) return d.fail("reload: the server is not running");
  if (::kill(d.my_manager_pid, only_task_workers ? SIGUSR2 : SIGUSR1) != 0)
    return d.fail(fmt::format("reload: kill({}): {}", d.my_manager_pid, errno_text(errno)));
  return true;
}

bool server::shutdown() {
  auto& d = *impl_;
  if (!d.started || d.my_master_pid <= 0) return d.fail("shutdown: the server is not running");
  if (::kill(d.my_master_pid, SIGTERM) != 0)
    return d.fail(fmt::format("shutdown: kill({}): {}", d.my_master_pid, errno_text(errno)));
  return true;
}

bool server::stop(int worker_id, bool /*wait_event*/) {
  auto& d = *impl_;
  if (d.who != role::worker) return d.fail("stop: only in a worker process");
  if (worker_id < 0 || worker_id == d.my_worker_id) {
    d.stop_self = true;  // leaves after the current callback; the manager starts another
    return true;
  }
  if (worker_id >= d.cfg.worker_num) return d.fail(fmt::format("stop: no worker #{}", worker_id));
  pid_t pid = d.shm->workers()[worker_id].pid.load();
  if (pid <= 0 || ::kill(pid, SIGTERM) != 0) return d.fail(fmt::format("stop: worker #{} is not running", worker_id));
  return true;
}

server_stats server::stats() const {
  auto& d = *impl_;
  server_stats st;
  if (!d.shm) return st;
  st.start_time = d.shm->start_time.load();
  st.connection_num = d.shm->connection_num.load();
  st.accept_count = d.shm->accept_count.load();
  st.close_count = d.shm->close_count.load();
  st.worker_num = d.cfg.worker_num;
  st.task_worker_num = d.cfg.task_worker_num;
  st.tasking_num = d.tasking_num();
  st.total_recv_bytes = d.shm->total_recv_bytes.load();
  st.total_send_bytes = d.shm->total_send_bytes.load();
  int idle = 0;
  for (int i = 0; i < d.cfg.worker_num; ++i) {
    auto& w = d.shm->workers()[i];
    if (int64_t(w.dispatched.load() - w.done.load()) <= 0) ++idle;
  }
  st.idle_worker_num = idle;
  if (d.who == role::worker) st.request_count = d.shm->workers()[d.my_worker_id].request_count.load();
  return st;
}

// sendto() and sendfile() are in server_io.cpp.
// task, taskwait, task_wait_multi, finish, send_message are in server_task.cpp.

// --- start() -----------------------------------------------------------------

bool server::impl::prepare() {
  std::string err;
  if (!validate(cfg, &err)) return fail(err);
  port_cfg.clear();
  for (auto& l : listeners) {
    struct settings s = cfg;
    if (!l.overrides.empty() && (!apply(s, l.overrides, &err) || !validate(s, &err)))
      return fail(fmt::format("port {}: {}", host_port(l.host, l.port), err));
    port_cfg.push_back(std::move(s));
  }
  if (!check_tasks()) return false;  // task workers need on_task (server_task.cpp)
  if (!prepare_io()) return false;  // UDP needs on_packet; TLS contexts (server_io.cpp)

  if (!cfg.log_file.empty()) {
    int fd = ::open(cfg.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return fail(fmt::format("log_file {}: {}", cfg.log_file, errno_text(errno)));
    if (own_log_fd) ::close(log_fd);
    log_fd = fd;
    own_log_fd = true;
  }

  auto dm = cfg.dispatch;
  if (connection_affine && run_mode == mode::process &&
      (dm == dispatch_mode::round_robin || dm == dispatch_mode::preemptive || dm == dispatch_mode::stream)) {
    log(log_level::info, fmt::format("{}: dispatch_mode {} spreads a connection over workers; using 2 (fd modulo) "
                                     "so that each connection stays with one worker",
                                     connection_affine, int(dm)));
    cfg.dispatch = dispatch_mode::fd_modulo;
  }

  if (!cfg.pid_file.empty()) {
    pid_t pid = read_pid_file(cfg.pid_file);
    if (pid > 0 && pid != getpid() && process_alive(pid))
      return fail(fmt::format("server already running (pid {}, pid_file {})", pid, cfg.pid_file));
  }

  if (!open_listeners()) return false;

  // daemonize: detach now (the ports are bound, nothing is forked yet); the
  // pid file then names the daemon. It changes to /, hence the absolute path.
  std::string pid_path = cfg.pid_file;
  if (!pid_path.empty() && pid_path[0] != '/') {
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd)) pid_path = std::string(cwd) + "/" + pid_path;
  }
  if (cfg.daemonize && !daemonize_now()) return false;

  if (!cfg.pid_file.empty()) {
    std::string text = fmt::format("{}\n", int(getpid()));
    int fd = ::open(pid_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || ::write(fd, text.data(), text.size()) != ssize_t(text.size())) {
      int e = errno;
      if (fd >= 0) ::close(fd);
      for (int l : listen_fds) ::close(l);
      listen_fds.clear();
      return fail(fmt::format("pid_file {}: {}", cfg.pid_file, errno_text(e)));
    }
    ::close(fd);
    pid_file_written = pid_path;
  }

  // Shared memory: counters, and one row per worker.
  shm_size = sizeof(shm_state) + sizeof(shm_worker) * size_t(cfg.worker_num);
  void* mem = mmap(nullptr, shm_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    cleanup_master(true);
    return fail(fmt::format("mmap: {}", errno_text(errno)));
  }
  shm = new (mem) shm_state();
  shm->worker_num = cfg.worker_num;
  for (int i = 0; i < cfg.worker_num; ++i) new (&shm->workers()[i]) shm_worker();
  shm->start_time = now_ms() / 1000;

  // PROCESS: a socketpair per worker, made before the manager so that the
  // manager keeps each worker's end for the worker's replacements.
  if (run_mode == mode::process) {
    for (int i = 0; i < cfg.worker_num; ++i) {
      int sv[2];
      if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        int e = errno;
        cleanup_master(true);
        return fail(fmt::format("socketpair: {}", errno_text(e)));
      }
      // Room for several frames each way (the kernel caps it at wmem_max, then doubles it).
      int size = int(ipc::kMaxFrame * 8);
      for (int fd : sv) {
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
      }
      pipes.push_back({sv[0], sv[1]});
    }
  }
  if (!prepare_tasks()) {  // inboxes, the task queue, their counters (server_task.cpp)
    std::string why = error;
    cleanup_master(true);
    return fail(why);
  }
  return true;
}

bool server::impl::open_listeners() {
  for (size_t i = 0; i < listeners.size(); ++i) {
    auto& l = listeners[i];
    const auto& s = port_cfg[i];
    std::string shown = host_port(l.host.empty() ? "0.0.0.0" : l.host, l.port);
    auto bad = [&](const std::string& what) {
      for (int fd : listen_fds) ::close(fd);
      listen_fds.clear();
      return fail(fmt::format("listen {} failed: {}", shown, what));
    };
    if (l.port < 0 || l.port > 65535) return bad("bad port");
    const bool udp = is_udp(i);
    addrinfo hints{};
    hints.ai_family = l.type == sock_type::tcp6 || l.type == sock_type::udp6 ? AF_INET6 : AF_UNSPEC;
    hints.ai_socktype = udp ? SOCK_DGRAM : SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* res = nullptr;
    std::string host = l.host;
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    std::string port = std::to_string(l.port);
    int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &res);
    if (rc != 0 || !res) return bad(rc == EAI_SYSTEM ? errno_text(errno) : gai_strerror(rc));
    int fd = ::socket(res->ai_family, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      freeaddrinfo(res);
      return bad(errno_text(errno));
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (s.enable_reuse_port) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (::bind(fd, res->ai_addr, res->ai_addrlen) != 0 || (!udp && ::listen(fd, s.backlog) != 0)) {
      int e = errno;
      freeaddrinfo(res);
      ::close(fd);
      return bad(errno_text(e));
    }
    freeaddrinfo(res);
    if (s.tcp_defer_accept > 0 && !udp)
      setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &s.tcp_defer_accept, sizeof s.tcp_defer_accept);
    if (s.tcp_fastopen && !udp) {
      int qlen = 128;
      setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN, &qlen, sizeof qlen);
    }
    if (l.port == 0) {  // a free port was picked: say which
      sockaddr_storage sa{};
      socklen_t len = sizeof sa;
      if (getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) == 0)
        l.port = ntohs(sa.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&sa)->sin6_port
                                                : reinterpret_cast<sockaddr_in*>(&sa)->sin_port);
    }
    listen_fds.push_back(fd);
  }
  return true;
}

void server::impl::apply_socket_options(int fd, const struct settings& s) const {
  int one = 1;
  if (s.open_tcp_nodelay) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (s.open_tcp_keepalive) {
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    if (s.tcp_keepidle > 0) setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &s.tcp_keepidle, sizeof(int));
    if (s.tcp_keepinterval > 0) setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &s.tcp_keepinterval, sizeof(int));
    if (s.tcp_keepcount > 0) setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &s.tcp_keepcount, sizeof(int));
  }
}

// Undoes prepare() in the master (after a failure, or at the end).
void server::impl::cleanup_master(bool remove_pid) {
  for (int fd : listen_fds)
    if (fd >= 0) ::close(fd);
  listen_fds.clear();
  for (auto& p : pipes)
    for (int fd : p)
      if (fd >= 0) ::close(fd);
  pipes.clear();
  if (remove_pid && !pid_file_written.empty()) {
    if (read_pid_file(pid_file_written) == getpid()) ::unlink(pid_file_written.c_str());
    pid_file_written.clear();
  }
  if (shm) {
    munmap(shm, shm_size);
    shm = nullptr;
  }
  cleanup_tasks();
}

namespace {

constexpr int kMasterSignals[] = {SIGTERM, SIGINT, SIGUSR1, SIGUSR2, SIGCHLD};

sigset_t master_sigset() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : kMasterSignals) sigaddset(&set, s);
  return set;
}

}  // namespace

bool server::start() {
  auto& d = *impl_;
  if (d.started) return d.fail("start() was called already");
  if (!d.prepare()) {
    if (d.cfg.daemonize) d.log(log_level::error, fmt::format("start failed: {}", d.error));  // no one else hears it
    return false;
  }
  d.started = true;
  d.who = role::master;
  d.my_master_pid = getpid();
  d.shm->master_pid = getpid();

  // The master's signals are read from a signalfd; blocked before the fork
  // (the manager restores the mask) and before any thread is made (threads
  // inherit the mask, so only the main thread's signalfd sees them).
  sigset_t set = master_sigset(), old;
  pthread_sigmask(SIG_BLOCK, &set, &old);
  struct sigaction ignore {}, old_pipe {};
  ignore.sa_handler = SIG_IGN;  // a log line to a closed stderr must not kill the master
  sigaction(SIGPIPE, &ignore, &old_pipe);

  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    sigaction(SIGPIPE, &old_pipe, nullptr);
    d.cleanup_master(true);
    d.started = false;
    return d.fail(fmt::format("fork: {}", errno_text(e)));
  }
  if (pid == 0) {
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    d.manager_main();  // never returns
  }
  d.my_manager_pid = pid;
  d.shm->manager_pid = pid;
  d.signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);

  // The workers' ends stay in the manager (and the worker using each).
  for (auto& p : d.pipes) {
    ::close(p[1]);
    p[1] = -1;
  }
  d.tasks_in_master();  // so do the inboxes and the task queue
  if (d.run_mode == mode::base) {  // the workers accept on their inherited copies
    for (int fd : d.listen_fds) ::close(fd);
    d.listen_fds.clear();
  } else {
    d.spare_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    int n = std::max(1, d.cfg.reactor_num);
    for (int r = 0; r < n; ++r)
      d.reactors.push_back(std::make_unique<net::socket_server>(
          [&d, r](uint32_t owner, net::socket_event& ev) { d.reactor_event(r, owner, ev); }));
    for (auto& ss : d.reactors) ss->set_logger([&d](std::string_view m) { d.log(log_level::warning, m); });
    d.pipe_parsers.resize(size_t(d.cfg.worker_num));
    for (int w = 0; w < d.cfg.worker_num; ++w) {
      auto& ss = *d.reactors[size_t(w) % d.reactors.size()];
      int sid = ss.bind(kPipeOwner | uint32_t(w), d.pipes[size_t(w)][0]);
      d.pipe_sid.push_back(sid);
      ss.start(kPipeOwner | uint32_t(w), sid);
    }
    d.start_udp();  // the UDP ports: read by a reactor (server_io.cpp)
    for (auto& ss : d.reactors) ss->start();
  }
  d.log(log_level::info, fmt::format("started: {} mode, {} worker(s){}, listening on {}",
                                     d.run_mode == mode::process ? "PROCESS" : "BASE", d.cfg.worker_num,
                                     d.run_mode == mode::process ? fmt::format(", {} reactor thread(s)", d.reactors.size())
                                                                 : std::string(),
                                     host_port(d.listeners[0].host, d.listeners[0].port)));
  if (on_start) d.run_callback("on_start", [&] { on_start(*this); });

  bool clean = d.master_loop();

  for (auto& ss : d.reactors) ss->stop();  // closes every connection
  d.reactors.clear();
  if (on_shutdown) d.run_callback("on_shutdown", [&] { on_shutdown(*this); });
  if (d.spare_fd >= 0) ::close(d.spare_fd);
  d.spare_fd = -1;
  if (d.signal_fd >= 0) ::close(d.signal_fd);
  d.signal_fd = -1;
  d.cleanup_master(true);
  d.conns.clear();
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  sigaction(SIGPIPE, &old_pipe, nullptr);
  d.log(log_level::info, "stopped");
  d.who = role::none;
  d.started = false;
  return clean;
}

// The master's main thread: signals, accepting (PROCESS) and the heartbeat
// (PROCESS), until SIGTERM/SIGINT or the manager's death. Then stops the
// manager and waits for it. False if the manager died on its own.
bool server::impl::master_loop() {
  bool clean = true;
  bool manager_gone = false;
  const bool heartbeat = run_mode == mode::process && cfg.heartbeat_check_interval > 0;
  int64_t next_check = now_ms() + int64_t(cfg.heartbeat_check_interval) * 1000;
  std::vector<pollfd> fds;
  for (;;) {
    fds.clear();
    fds.push_back({signal_fd, POLLIN, 0});
    for (size_t i = 0; i < listen_fds.size(); ++i)  // UDP ports are the reactors' (-1: poll skips it)
      fds.push_back({is_udp(i) ? -1 : listen_fds[i], POLLIN, 0});
    int timeout = -1;
    if (heartbeat) timeout = int(std::max<int64_t>(0, next_check - now_ms()));
    int n = ::poll(fds.data(), fds.size(), timeout);
    if (n < 0 && errno != EINTR) {
      log(log_level::error, fmt::format("poll: {}", errno_text(errno)));
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    bool stop = false;
    if (n > 0 && (fds[0].revents & POLLIN)) {
      signalfd_siginfo si;
      while (::read(signal_fd, &si, sizeof si) == ssize_t(sizeof si)) {
        int sig = int(si.ssi_signo);
        if (sig == SIGTERM || sig == SIGINT) {
          log(log_level::info, fmt::format("{}: shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT"));
          stop = true;
        } else if (sig == SIGUSR1 || sig == SIGUSR2) {
          log(log_level::info, fmt::format("{}: reloading the {}", sig == SIGUSR1 ? "SIGUSR1" : "SIGUSR2",
                                           sig == SIGUSR1 ? "workers" : "task workers"));
          ::kill(my_manager_pid, sig);
        } else if (sig == SIGCHLD) {
          int status = 0;
          if (waitpid(my_manager_pid, &status, WNOHANG) == my_manager_pid) {
            log(log_level::error,
                WIFSIGNALED(status) ? fmt::format("the manager (pid {}) was killed by signal {}; shutting down",
                                                  my_manager_pid, WTERMSIG(status))
                                    : fmt::format("the manager (pid {}) exited with status {}; shutting down",
                                                  my_manager_pid, WEXITSTATUS(status)));
            manager_gone = true;
            clean = false;
            error = "the manager process ended unexpectedly";
            stop = true;
          }
        }
      }
    }
    if (stop) break;
    if (n > 0)
      for (size_t i = 1; i < fds.size(); ++i)
        if (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) accept_from(int(i - 1));
    if (heartbeat && now_ms() >= next_check) {
      heartbeat_check();
      next_check = now_ms() + int64_t(cfg.heartbeat_check_interval) * 1000;
    }
  }

  // Stop accepting, then stop the manager (which stops the workers; the
  // reactors keep running meanwhile, so the workers' last replies go out).
  stopping = true;
  for (size_t i = 0; i < listen_fds.size(); ++i)  // UDP: closed after the reactors stop
    if (!is_udp(i) && listen_fds[i] >= 0) {
      ::close(listen_fds[i]);
      listen_fds[i] = -1;
    }
  if (!manager_gone) {
    ::kill(my_manager_pid, SIGTERM);
    // The manager gives each worker max_wait_time; allow that and a margin.
    int64_t deadline = now_ms() + int64_t(cfg.max_wait_time * 1000) + 5000;
    for (;;) {
      int status = 0;
      pid_t r = waitpid(my_manager_pid, &status, WNOHANG);
      if (r == my_manager_pid || (r < 0 && errno == ECHILD)) break;
      if (now_ms() > deadline) {
        log(log_level::error, fmt::format("the manager (pid {}) did not stop: SIGKILL", my_manager_pid));
        ::kill(my_manager_pid, SIGKILL);
        waitpid(my_manager_pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  return clean;
}

void server::impl::accept_from(int index) {
  const int lfd = listen_fds[size_t(index)];
  for (int i = 0; i < 64; ++i) {
    sockaddr_storage sa{};
    socklen_t len = sizeof sa;
    int fd = accept4(lfd, reinterpret_cast<sockaddr*>(&sa), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      if (err == EINTR || err == ECONNABORTED || err == EPROTO) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) return;
      if ((err == EMFILE || err == ENFILE) && spare_fd >= 0) {
        // Out of descriptors: take the connection off the backlog with the
        // spare and drop it, or poll() would report the listener forever.
        ::close(spare_fd);
        int c = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0) ::close(c);
        spare_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        log(log_level::warning, fmt::format("accept: {}; dropped a connection", errno_text(err)));
        return;
      }
      log(log_level::warning, fmt::format("accept: {}", errno_text(err)));
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      return;
    }
    char ip[INET6_ADDRSTRLEN] = {};
    int port = 0;
    if (sa.ss_family == AF_INET6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&sa);
      inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
      port = ntohs(a->sin6_port);
    } else {
      auto* a = reinterpret_cast<sockaddr_in*>(&sa);
      inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
      port = ntohs(a->sin_port);
    }
    if (shm->connection_num.load() >= uint64_t(cfg.max_conn)) {
      log(log_level::warning, fmt::format("max_conn ({}) reached: refused a connection from {}", cfg.max_conn,
                                          host_port(ip, port)));
      ::close(fd);
      continue;
    }
    apply_socket_options(fd, port_cfg[size_t(index)]);
    connection_ptr c = new_connection(index, ip, port);
    c->reactor = int(next_reactor++ % reactors.size());
    auto& ss = *reactors[size_t(c->reactor)];
    int sid = ss.adopt_connection(uint32_t(c->session), fd);
    if (sid < 0) {
      log(log_level::warning, fmt::format("no socket slot for a connection from {}", host_port(ip, port)));
      ::close(fd);
      continue;
    }
    c->sid = sid;
    auto [high, low] = watermarks(*c);
    ss.set_warning(sid, high, low);
    shm->connection_num++;
    shm->accept_count++;
    conns.add(c);
    ss.start(uint32_t(c->session), sid);  // its reactor reports connect, then reads
  }
}

// --- the manager -------------------------------------------------------------

void server::impl::manager_main() {
  who = role::manager;
  my_manager_pid = getpid();
  for (auto& p : pipes) {  // the master's ends are the master's
    ::close(p[0]);
    p[0] = -1;
  }
  if (run_mode == mode::process) {  // only the master accepts; workers keep UDP ports for sendto()
    for (size_t i = 0; i < listen_fds.size(); ++i)
      if (!is_udp(i) && listen_fds[i] >= 0) {
        ::close(listen_fds[i]);
        listen_fds[i] = -1;
      }
  }
  signal(SIGINT, SIG_IGN);  // ^C reaches the whole group: the master decides
  signal(SIGPIPE, SIG_IGN);

  manager::options o;
  for (int i = 0; i < cfg.worker_num; ++i) o.children.push_back({child_kind::worker, i});
  add_task_children(o.children);  // task workers, then user processes (server_task.cpp)
  o.max_wait_time = cfg.max_wait_time;
  o.parent_death_signal = SIGTERM;
  o.run_child = [this](const child_spec& c) {
    if (c.kind == child_kind::task_worker) return task_worker_main(c.index);
    if (c.kind == child_kind::user_process) return user_process_main(c.index);
    return run_mode == mode::process ? worker_main(c.index) : base_worker_main(c.index);
  };
  o.on_child_exit = [this](const child_spec& c, pid_t pid, int code, int sig) {
    if (c.kind == child_kind::worker && c.index < cfg.worker_num) shm->workers()[c.index].pid = 0;
    task_child_exited(c.index);
    if (c.kind == child_kind::user_process) return;  // swoole reports workers and task workers only
    if ((sig != 0 || (code != 0 && code != kRecycleExit)) && self->on_worker_error)
      run_callback("on_worker_error", [&] { self->on_worker_error(*self, c.index, pid, code, sig); });
  };
  o.log = [this](std::string_view line) {
    int level = log_level::info;
    for (auto [prefix, lv] : {std::pair<std::string_view, int>{"[info] ", log_level::info},
                              {"[warning] ", log_level::warning},
                              {"[error] ", log_level::error}})
      if (line.starts_with(prefix)) {
        line.remove_prefix(prefix.size());
        level = lv;
      }
    log(level, line);
  };
  if (self->on_manager_start) run_callback("on_manager_start", [&] { self->on_manager_start(*self); });
  int rc = 0;
  try {
    manager m(std::move(o));
    rc = m.run();
  } catch (const std::exception& e) {
    log(log_level::error, fmt::format("manager: {}", e.what()));
    rc = 1;
  }
  if (self->on_manager_stop) run_callback("on_manager_stop", [&] { self->on_manager_stop(*self); });
  _exit(rc);
}

void server::impl::run_callback(const char* name, const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    log(log_level::error, fmt::format("{} threw: {}", name, e.what()));
  } catch (...) {
    log(log_level::error, fmt::format("{} threw a non-standard exception", name));
  }
}

}  // namespace tern::server
