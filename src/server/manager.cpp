// tern::server::manager: forks and supervises the worker, task-worker and user
// processes (see manager.hpp for the behaviour).
//
// Signals: the handlers only set a flag and write a byte to a non-blocking
// self-pipe; run() polls the pipe, so all the work happens in the loop. Every
// fork happens with all signals blocked, and the child resets them before it
// unblocks, so a signal meant for a new child never runs the manager's handler
// in it.
#include "server/manager.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iterator>
#include <optional>

namespace tern::server {

namespace {

using mclock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr mclock::duration kMinStartSpacing = 100ms;  // at most 10 starts a second per child
constexpr mclock::duration kCrashWindow = 1s;  // dying sooner than this counts as a crash loop
constexpr mclock::duration kMaxBackoff = 1s;

constexpr int kSignals[] = {SIGTERM, SIGUSR1, SIGUSR2, SIGCHLD};

// Process-wide: the signal handlers' view of the running manager.
volatile sig_atomic_t g_stop = 0;
volatile sig_atomic_t g_reload_all = 0;
volatile sig_atomic_t g_reload_tasks = 0;
volatile sig_atomic_t g_wake_fd = -1;     // write end of the self-pipe while run() runs
volatile sig_atomic_t g_manager_pid = 0;  // the process whose handlers are live

void wake() {
  int fd = g_wake_fd;
  if (fd < 0) return;
  unsigned char byte = 1;
  ssize_t n = ::write(fd, &byte, 1);  // EAGAIN: the pipe is full, run() wakes anyway
  (void)n;
}

extern "C" void manager_signal_handler(int sig) {
  if (::getpid() != g_manager_pid) return;
  int saved = errno;
  switch (sig) {
    case SIGTERM:
      g_stop = 1;
      break;
    case SIGUSR1:
      g_reload_all = 1;
      break;
    case SIGUSR2:
      g_reload_tasks = 1;
      break;
    default:  // SIGCHLD: reap
      break;
  }
  wake();
  errno = saved;
}

const char* kind_name(child_kind k) {
  switch (k) {
    case child_kind::worker:
      return "worker";
    case child_kind::task_worker:
      return "task worker";
    case child_kind::user_process:
      return "user process";
  }
  return "child";
}

const char* signal_name(int sig) {
  switch (sig) {
    case SIGHUP:
      return "SIGHUP";
    case SIGINT:
      return "SIGINT";
    case SIGQUIT:
      return "SIGQUIT";
    case SIGILL:
      return "SIGILL";
    case SIGTRAP:
      return "SIGTRAP";
    case SIGABRT:
      return "SIGABRT";
    case SIGBUS:
      return "SIGBUS";
    case SIGFPE:
      return "SIGFPE";
    case SIGKILL:
      return "SIGKILL";
    case SIGUSR1:
      return "SIGUSR1";
    case SIGSEGV:
      return "SIGSEGV";
    case SIGUSR2:
      return "SIGUSR2";
    case SIGPIPE:
      return "SIGPIPE";
    case SIGALRM:
      return "SIGALRM";
    case SIGTERM:
      return "SIGTERM";
    case SIGXCPU:
      return "SIGXCPU";
    case SIGXFSZ:
      return "SIGXFSZ";
    case SIGSYS:
      return "SIGSYS";
    default:
      return nullptr;
  }
}

std::string describe_signal(int sig) {
  const char* name = signal_name(sig);
  return name ? fmt::format("{} ({})", sig, name) : fmt::format("{}", sig);
}

mclock::duration seconds_to_duration(double s) {
  if (!(s > 0)) return mclock::duration::zero();  // also NaN
  if (s > 86400.0 * 365) s = 86400.0 * 365;
  return std::chrono::duration_cast<mclock::duration>(std::chrono::duration<double>(s));
}

int64_t to_ms(mclock::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

}  // namespace

struct manager::state {
  struct slot {
    pid_t pid = 0;
    mclock::time_point started{};
    bool restart_pending = false;
    mclock::time_point restart_at{};
    int crash_streak = 0;
    bool leaving = false;  // asked to leave (reload or stop): its end is expected
  };

  manager& m;
  std::vector<slot> slots;
  int wake_rd = -1, wake_wr = -1;
  struct sigaction old_actions[std::size(kSignals)] = {};
  sigset_t old_mask{};
  const mclock::duration max_wait;

  // The reload in progress: children (by index) still to replace, one at a time.
  bool reloading = false;
  std::vector<size_t> reload_queue;
  size_t reload_next = 0;
  std::optional<size_t> reload_target;
  mclock::time_point reload_kill_at{};
  bool reload_killed = false;

  bool stopping = false;

  explicit state(manager& mgr)
      : m(mgr),
        slots(mgr.opt_.children.size()),
        max_wait(seconds_to_duration(mgr.opt_.max_wait_time)) {}

  // Callbacks may throw: that must not leave run() with children running, so
  // an exception is reported and otherwise ignored.
  void log(std::string_view level, std::string_view text) {
    std::string line = fmt::format("[{}] {}", level, text);
    if (m.opt_.log) {
      try {
        m.opt_.log(line);
        return;
      } catch (...) {
        // fall back to stderr
      }
    }
    std::fprintf(stderr, "tern manager[%d]: %s\n", int(::getpid()), line.c_str());
  }

  void report_exit(size_t i, pid_t pid, int code, int sig) {
    if (!m.opt_.on_child_exit) return;
    try {
      m.opt_.on_child_exit(m.opt_.children[i], pid, code, sig);
    } catch (const std::exception& e) {
      log("error", fmt::format("on_child_exit threw: {}", e.what()));
    } catch (...) {
      log("error", "on_child_exit threw");
    }
  }

  std::string who(size_t i, pid_t pid) const {
    const child_spec& c = m.opt_.children[i];
    return fmt::format("{} #{} (pid {})", kind_name(c.kind), c.index, pid);
  }

  void set_pid(size_t i, pid_t pid) {
    slots[i].pid = pid;
    m.pids_[i] = pid;
  }

  bool install() {
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
      log("error", fmt::format("pipe2: {}", std::strerror(errno)));
      return false;
    }
    wake_rd = fds[0];
    wake_wr = fds[1];
    g_manager_pid = ::getpid();
    g_wake_fd = wake_wr;
    struct sigaction sa {};
    sa.sa_handler = manager_signal_handler;
    sigemptyset(&sa.sa_mask);
    for (size_t k = 0; k < std::size(kSignals); ++k) {
      sa.sa_flags = SA_RESTART | (kSignals[k] == SIGCHLD ? SA_NOCLDSTOP : 0);
      ::sigaction(kSignals[k], &sa, &old_actions[k]);
    }
    // The handled signals may have been blocked by whoever forked us.
    sigset_t ours;
    sigemptyset(&ours);
    for (int sig : kSignals) sigaddset(&ours, sig);
    ::sigprocmask(SIG_UNBLOCK, &ours, &old_mask);
    return true;
  }

  void uninstall() {
    for (size_t k = 0; k < std::size(kSignals); ++k)
      ::sigaction(kSignals[k], &old_actions[k], nullptr);
    ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
    g_wake_fd = -1;
    g_manager_pid = 0;
    g_stop = 0;
    g_reload_all = 0;
    g_reload_tasks = 0;
    if (wake_rd >= 0) ::close(wake_rd);
    if (wake_wr >= 0) ::close(wake_wr);
    wake_rd = wake_wr = -1;
  }

  // In the child, right after fork(): defaults, then run the body and leave.
  [[noreturn]] void become_child(size_t i) {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (int sig : kSignals) ::sigaction(sig, &dfl, nullptr);
    g_wake_fd = -1;
    g_manager_pid = 0;
    ::close(wake_rd);
    ::close(wake_wr);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    int rc = 0;
    try {
      if (m.opt_.run_child) rc = m.opt_.run_child(m.opt_.children[i]);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: uncaught exception: %s\n", who(i, ::getpid()).c_str(), e.what());
      rc = 1;
    } catch (...) {
      std::fprintf(stderr, "%s: uncaught exception\n", who(i, ::getpid()).c_str());
      rc = 1;
    }
    std::fflush(nullptr);
    ::_exit(rc & 0xff);
  }

  void spawn(size_t i) {
    slot& s = slots[i];
    s.restart_pending = false;
    s.leaving = false;
    std::fflush(nullptr);  // nothing buffered may be written twice
    sigset_t all, old;
    sigfillset(&all);
    ::sigprocmask(SIG_BLOCK, &all, &old);
    pid_t pid = ::fork();
    if (pid == 0) become_child(i);
    int err = errno;
    ::sigprocmask(SIG_SETMASK, &old, nullptr);
    mclock::time_point now = mclock::now();
    if (pid < 0) {
      const child_spec& c = m.opt_.children[i];
      log("error", fmt::format("can't fork {} #{}: {}; retrying", kind_name(c.kind), c.index,
                               std::strerror(err)));
      s.restart_pending = true;
      s.restart_at = now + kMinStartSpacing;
      return;
    }
    s.started = now;
    set_pid(i, pid);
  }

  std::optional<size_t> find(pid_t pid) const {
    for (size_t i = 0; i < slots.size(); ++i)
      if (slots[i].pid == pid) return i;
    return std::nullopt;
  }

  size_t running() const {
    return size_t(
        std::count_if(slots.begin(), slots.end(), [](const slot& s) { return s.pid != 0; }));
  }

  // A child ended: report it, then replace it (unless stopping).
  void on_exit(size_t i, pid_t pid, int status) {
    slot& s = slots[i];
    mclock::time_point now = mclock::now();
    const bool expected = s.leaving;
    const mclock::duration lived = now - s.started;
    set_pid(i, 0);
    s.leaving = false;

    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
    const int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    const bool recycled = sig == 0 && code == kRecycleExit;
    const bool clean = sig == 0 && code == 0;

    const bool is_reload_target = reload_target && *reload_target == i;
    std::string restart_note;
    if (!stopping && !is_reload_target) {
      if (!expected && !clean && !recycled && lived < kCrashWindow) {
        ++s.crash_streak;
      } else {
        s.crash_streak = 0;
      }
      mclock::duration delay = mclock::duration::zero();
      if (s.crash_streak > 0)
        delay = std::min<mclock::duration>(
            kMinStartSpacing * (1 << std::min(s.crash_streak - 1, 4)), kMaxBackoff);
      s.restart_pending = true;
      s.restart_at = std::max(now + delay, s.started + kMinStartSpacing);
      if (s.restart_at > now)
        restart_note =
            fmt::format("; restart in {} ms", std::max<int64_t>(1, to_ms(s.restart_at - now)));
    }

    std::string how = sig ? fmt::format("killed by signal {}", describe_signal(sig))
                          : fmt::format("exited with status {}", code);
    if (recycled) {
      log("info", fmt::format("{} recycled (exit code {}){}", who(i, pid), code, restart_note));
    } else if (expected || clean) {
      log("info", fmt::format("{} {}{}", who(i, pid), how, restart_note));
    } else {
      log("warning", fmt::format("{} {}{}", who(i, pid), how, restart_note));
    }
    report_exit(i, pid, code, sig);

    if (is_reload_target && !stopping) {
      // The replacement starts at once; then the next one is asked to leave.
      s.crash_streak = 0;
      reload_target.reset();
      spawn(i);
      advance_reload();
    }
  }

  void reap() {
    for (;;) {
      int status = 0;
      pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid <= 0) {
        if (pid < 0 && errno == EINTR) continue;
        return;
      }
      if (std::optional<size_t> i = find(pid)) on_exit(*i, pid, status);
    }
  }

  void start_reload(bool tasks_only) {
    if (reloading) {
      log("info", "a reload is in progress; this request is dropped");
      return;
    }
    reload_queue.clear();
    if (!tasks_only)
      for (size_t i = 0; i < slots.size(); ++i)
        if (m.opt_.children[i].kind == child_kind::worker) reload_queue.push_back(i);
    for (size_t i = 0; i < slots.size(); ++i)
      if (m.opt_.children[i].kind == child_kind::task_worker) reload_queue.push_back(i);
    if (reload_queue.empty()) {
      log("warning",
          tasks_only ? "reload: there are no task workers" : "reload: there are no workers");
      return;
    }
    log("info", fmt::format("reloading {} {}", reload_queue.size(),
                            tasks_only ? "task workers" : "workers and task workers"));
    reloading = true;
    reload_next = 0;
    advance_reload();
  }

  void advance_reload() {
    while (!reload_target && reload_next < reload_queue.size()) {
      size_t i = reload_queue[reload_next++];
      pid_t pid = slots[i].pid;
      if (pid == 0) continue;  // waiting for a restart: it will start the new code
      if (::kill(pid, SIGTERM) != 0) {
        log("warning", fmt::format("reload: kill({}, SIGTERM): {}", pid, std::strerror(errno)));
        continue;
      }
      slots[i].leaving = true;
      reload_target = i;
      reload_kill_at = mclock::now() + max_wait;
      reload_killed = false;
    }
    if (!reload_target && reloading) {
      reloading = false;
      log("info", "reload done");
    }
  }

  void check_reload_timeout(mclock::time_point now) {
    if (!reload_target || reload_killed || now < reload_kill_at) return;
    size_t i = *reload_target;
    log("warning", fmt::format("{} did not exit within {} s of SIGTERM; sending SIGKILL",
                               who(i, slots[i].pid), m.opt_.max_wait_time));
    ::kill(slots[i].pid, SIGKILL);
    reload_killed = true;
  }

  void start_due(mclock::time_point now) {
    for (size_t i = 0; i < slots.size(); ++i)
      if (slots[i].restart_pending && slots[i].pid == 0 && slots[i].restart_at <= now) spawn(i);
  }

  // Milliseconds until the next timed event (a restart, a reload SIGKILL), -1: none.
  int poll_timeout(mclock::time_point now) const {
    std::optional<mclock::time_point> next;
    auto consider = [&](mclock::time_point t) {
      if (!next || t < *next) next = t;
    };
    for (const slot& s : slots)
      if (s.restart_pending) consider(s.restart_at);
    if (reload_target && !reload_killed) consider(reload_kill_at);
    if (!next) return -1;
    if (*next <= now) return 0;
    // Round up so that the wake-up is not early.
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(*next - now).count();
    return int(std::min<int64_t>(ms, 60'000));
  }

  void wait_for_event(int timeout_ms) {
    pollfd p{wake_rd, POLLIN, 0};
    int rc = ::poll(&p, 1, timeout_ms);
    if (rc > 0) {
      unsigned char buf[256];
      while (::read(wake_rd, buf, sizeof buf) > 0) {
      }
    }
  }

  void supervise() {
    for (;;) {
      reap();
      if (g_stop) return;
      if (g_reload_all) {
        g_reload_all = 0;
        start_reload(false);
      }
      if (g_reload_tasks) {
        g_reload_tasks = 0;
        start_reload(true);
      }
      mclock::time_point now = mclock::now();
      check_reload_timeout(now);
      start_due(now);
      wait_for_event(poll_timeout(mclock::now()));
    }
  }

  // SIGTERM to every child; SIGKILL to those left after max_wait_time; reap all.
  void stop_all() {
    stopping = true;
    if (reloading) log("info", "reload abandoned: stopping");
    reloading = false;
    reload_target.reset();
    for (slot& s : slots) s.restart_pending = false;
    log("info", fmt::format("stopping {} children", running()));
    for (size_t i = 0; i < slots.size(); ++i) {
      if (slots[i].pid == 0) continue;
      slots[i].leaving = true;
      ::kill(slots[i].pid, SIGTERM);
    }
    const mclock::time_point kill_at = mclock::now() + max_wait;
    bool killed = false;
    for (;;) {
      reap();
      if (running() == 0) return;
      mclock::time_point now = mclock::now();
      if (!killed && now >= kill_at) {
        for (size_t i = 0; i < slots.size(); ++i) {
          if (slots[i].pid == 0) continue;
          log("warning", fmt::format("{} did not exit within {} s of SIGTERM; sending SIGKILL",
                                     who(i, slots[i].pid), m.opt_.max_wait_time));
          ::kill(slots[i].pid, SIGKILL);
        }
        killed = true;
      }
      int timeout = 100;  // SIGCHLD wakes us; the cap is a safety net
      if (!killed)
        timeout = int(std::clamp<int64_t>(
            std::chrono::ceil<std::chrono::milliseconds>(kill_at - now).count(), 0, 100));
      wait_for_event(timeout);
    }
  }
};

manager::manager(options o) : opt_(std::move(o)), pids_(opt_.children.size(), 0) {}

int manager::run() {
  state st(*this);
  if (opt_.parent_death_signal != 0) ::prctl(PR_SET_PDEATHSIG, opt_.parent_death_signal);
  if (!st.install()) return 1;
  for (size_t i = 0; i < st.slots.size(); ++i) st.spawn(i);
  st.supervise();
  st.stop_all();
  st.log("info", "manager stopped");
  st.uninstall();
  return 0;
}

void manager::request_reload(bool task_workers_only) {
  if (task_workers_only) {
    g_reload_tasks = 1;
  } else {
    g_reload_all = 1;
  }
  wake();
}

void manager::request_stop() {
  g_stop = 1;
  wake();
}

std::vector<pid_t> manager::pids() const { return pids_; }

}  // namespace tern::server
