// tern::server::manager with real processes. Each test forks the manager (in a
// process group of its own) from the test process; the manager forks the
// children; children and the manager's callbacks report to the test through a
// pipe. TearDown SIGKILLs the group and reaps everything (the test process is a
// child subreaper, so orphans come back to it): no process outlives a test.
#include "server/manager.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <csignal>
#include <cstring>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace tern::server {
namespace {

using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

// One report, one write: smaller than PIPE_BUF, so writes from many processes
// never interleave.
struct event {
  char type = 0;  // 's' child started, 't' child got SIGTERM, 'x' on_child_exit, 'l' log line
  int kind = -1;
  int index = -1;
  pid_t pid = 0;
  pid_t ppid = 0;
  int code = 0;
  int sig = 0;
  int running = 0;  // 'x': children running (manager::pids()) when the callback ran
  char text[256] = {};
};
static_assert(sizeof(event) < PIPE_BUF);

int g_events_fd = -1;  // in the manager and its children: the pipe's write end
int g_my_index = -1;   // in a child: its index

void send_event(const event& e) {
  ssize_t n = ::write(g_events_fd, &e, sizeof e);
  (void)n;
}

// A child body calls this once it is ready (its signal handlers are in place).
void announce(const child_spec& c) {
  event e;
  e.type = 's';
  e.kind = int(c.kind);
  e.index = c.index;
  e.pid = ::getpid();
  e.ppid = ::getppid();
  send_event(e);
}

[[noreturn]] void idle_forever() {
  for (;;) ::pause();
}

extern "C" void report_term_and_exit(int) {
  event e;
  e.type = 't';
  e.index = g_my_index;
  e.pid = ::getpid();
  send_event(e);
  ::_exit(0);
}

extern "C" void recycle_on_hup(int) { ::_exit(kRecycleExit); }

// Bodies.
int idle_body(const child_spec& c) {
  announce(c);
  idle_forever();
}

int graceful_body(const child_spec& c) {  // reports SIGTERM, exits 0
  g_my_index = c.index;
  ::signal(SIGTERM, report_term_and_exit);
  announce(c);
  idle_forever();
}

int ignore_term_body(const child_spec& c) {
  ::signal(SIGTERM, SIG_IGN);
  announce(c);
  idle_forever();
}

struct setup {
  std::vector<child_spec> children;
  std::function<int(const child_spec&)> body = idle_body;
  double max_wait_time = 1.0;
  int stop_when_index_exits = -1;  // calls request_stop() from on_child_exit
};

// "t0 ", "x2 ": an event's type and index, for order checks.
std::string fmt_event(const event& e) {
  return std::string(1, e.type) + std::to_string(e.index) + " ";
}

child_spec worker(int i) { return {child_kind::worker, i}; }
child_spec task(int i) { return {child_kind::task_worker, i}; }
child_spec user(int i) { return {child_kind::user_process, i}; }

class ServerManager : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    rd_ = fds[0];
    wr_ = fds[1];
  }

  void TearDown() override {
    if (mgr_ > 0) ::kill(-mgr_, SIGKILL);  // the manager's group: it and every child
    for (;;) {
      pid_t p = ::waitpid(-1, nullptr, 0);
      if (p > 0 || (p < 0 && errno == EINTR)) continue;
      break;  // ECHILD: nothing left
    }
    if (rd_ >= 0) ::close(rd_);
    if (wr_ >= 0) ::close(wr_);
    if (HasFailure()) {
      for (const event& e : history_)
        std::fprintf(stderr, "  event %c index=%d pid=%d code=%d sig=%d running=%d %s\n", e.type,
                     e.index, int(e.pid), e.code, e.sig, e.running, e.text);
    }
  }

  void start(setup su) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::setpgid(0, 0);
      ::close(rd_);
      g_events_fd = wr_;
      manager* self = nullptr;
      manager::options o;
      o.children = su.children;
      o.max_wait_time = su.max_wait_time;
      o.parent_death_signal = SIGTERM;  // the test process dies: so does the manager
      o.run_child = su.body;
      o.on_child_exit = [&self, stop_index = su.stop_when_index_exits](const child_spec& c, pid_t p,
                                                                       int code, int sig) {
        event e;
        e.type = 'x';
        e.kind = int(c.kind);
        e.index = c.index;
        e.pid = p;
        e.code = code;
        e.sig = sig;
        for (pid_t q : self->pids()) e.running += q != 0;
        send_event(e);
        if (c.index == stop_index) self->request_stop();
      };
      o.log = [](std::string_view line) {
        event e;
        e.type = 'l';
        e.pid = ::getpid();
        size_t n = std::min(line.size(), sizeof e.text - 1);
        std::memcpy(e.text, line.data(), n);
        send_event(e);
      };
      manager m(std::move(o));
      self = &m;
      ::_exit(m.run());
    }
    ::setpgid(pid, pid);  // also here: whichever runs first
    mgr_ = pid;
    ::close(wr_);
    wr_ = -1;
  }

  // The next event, or nullopt after `timeout`.
  std::optional<event> next(steady::time_point deadline) {
    for (;;) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - steady::now()).count();
      pollfd p{rd_, POLLIN, 0};
      int rc = ::poll(&p, 1, int(std::max<int64_t>(left, 0)));
      if (rc < 0 && errno == EINTR) continue;
      if (rc <= 0) return std::nullopt;
      event e;
      ssize_t n = ::read(rd_, &e, sizeof e);
      if (n < 0 && errno == EINTR) continue;
      if (n != ssize_t(sizeof e)) return std::nullopt;  // every writer gone
      history_.push_back(e);
      return e;
    }
  }

  // Reads events until one matches `pred`.
  std::optional<event> wait_for(const std::function<bool(const event&)>& pred,
                                std::chrono::milliseconds timeout = 3000ms) {
    steady::time_point deadline = steady::now() + timeout;
    while (std::optional<event> e = next(deadline))
      if (pred(*e)) return e;
    return std::nullopt;
  }

  std::optional<event> wait_start(int index, std::chrono::milliseconds timeout = 3000ms) {
    return wait_for([=](const event& e) { return e.type == 's' && e.index == index; }, timeout);
  }
  std::optional<event> wait_exit(int index, std::chrono::milliseconds timeout = 3000ms) {
    return wait_for([=](const event& e) { return e.type == 'x' && e.index == index; }, timeout);
  }
  std::optional<event> wait_log(std::string_view needle,
                                std::chrono::milliseconds timeout = 3000ms) {
    return wait_for(
        [=](const event& e) {
          return e.type == 'l' && std::string_view(e.text).find(needle) != std::string_view::npos;
        },
        timeout);
  }

  // Waits for the start of every child; their pids by index.
  std::vector<pid_t> wait_all_started(size_t n) {
    std::vector<pid_t> pids(n, 0);
    size_t seen = 0;
    while (seen < n) {
      std::optional<event> e = wait_for([](const event& ev) { return ev.type == 's'; });
      if (!e) break;
      if (e->index >= 0 && size_t(e->index) < n && pids[e->index] == 0) ++seen;
      if (e->index >= 0 && size_t(e->index) < n) pids[e->index] = e->pid;
    }
    return pids;
  }

  // The pid of the child at `index` that replaced `old` (seen already or to come), 0 if none.
  pid_t replacement(int index, pid_t old, std::chrono::milliseconds timeout = 3000ms) {
    for (const event& e : history_)
      if (e.type == 's' && e.index == index && e.pid != old) return e.pid;
    std::optional<event> e = wait_for(
        [=](const event& ev) { return ev.type == 's' && ev.index == index && ev.pid != old; },
        timeout);
    return e ? e->pid : 0;
  }

  bool logged(std::string_view needle) const {
    return std::any_of(history_.begin(), history_.end(), [&](const event& e) {
      return e.type == 'l' && std::string_view(e.text).find(needle) != std::string_view::npos;
    });
  }

  // The manager's exit status, or nullopt if it did not exit within `timeout`.
  std::optional<int> wait_manager(std::chrono::milliseconds timeout) {
    steady::time_point deadline = steady::now() + timeout;
    for (;;) {
      int status = 0;
      pid_t p = ::waitpid(mgr_, &status, WNOHANG);
      if (p == mgr_) return status;
      if (steady::now() >= deadline) return std::nullopt;
      ::usleep(5000);
    }
  }

  int rd_ = -1, wr_ = -1;
  pid_t mgr_ = 0;
  std::vector<event> history_;
};

TEST_F(ServerManager, StartsEveryChild) {
  start({.children = {worker(0), worker(1), task(2), user(3)}});
  std::set<std::pair<int, int>> seen;  // (kind, index)
  std::set<pid_t> pids;
  for (int n = 0; n < 4; ++n) {
    std::optional<event> e = wait_for([](const event& ev) { return ev.type == 's'; });
    ASSERT_TRUE(e) << "only " << n << " children started";
    EXPECT_EQ(e->ppid, mgr_);  // children of the manager
    seen.insert({e->kind, e->index});
    pids.insert(e->pid);
  }
  EXPECT_EQ(seen, (std::set<std::pair<int, int>>{{int(child_kind::worker), 0},
                                                 {int(child_kind::worker), 1},
                                                 {int(child_kind::task_worker), 2},
                                                 {int(child_kind::user_process), 3}}));
  EXPECT_EQ(pids.size(), 4u);
}

TEST_F(ServerManager, KilledChildIsRestartedAndReportedWithItsSignal) {
  start({.children = {worker(0), worker(1)}});
  std::vector<pid_t> pids = wait_all_started(2);
  ASSERT_NE(pids[1], 0);
  ASSERT_EQ(::kill(pids[1], SIGKILL), 0);
  std::optional<event> x = wait_exit(1);
  ASSERT_TRUE(x);
  EXPECT_EQ(x->pid, pids[1]);
  EXPECT_EQ(x->sig, SIGKILL);
  EXPECT_EQ(x->code, 0);
  EXPECT_NE(replacement(1, pids[1]), 0);
  EXPECT_TRUE(logged("[warning] worker #1 (pid " + std::to_string(pids[1]) +
                     ") killed by signal 9 (SIGKILL)"));
}

TEST_F(ServerManager, RecycleExitRestartsWithAnInfoLineOnly) {
  start({.children = {worker(0)}, .body = [](const child_spec& c) {
           ::signal(SIGHUP, recycle_on_hup);
           announce(c);
           idle_forever();
           return 0;
         }});
  std::vector<pid_t> pids = wait_all_started(1);
  ASSERT_NE(pids[0], 0);
  ASSERT_EQ(::kill(pids[0], SIGHUP), 0);
  std::optional<event> x = wait_exit(0);
  ASSERT_TRUE(x);
  EXPECT_EQ(x->code, kRecycleExit);
  EXPECT_EQ(x->sig, 0);
  EXPECT_NE(replacement(0, pids[0]), 0);
  EXPECT_TRUE(logged("[info] worker #0 (pid " + std::to_string(pids[0]) + ") recycled"));
  EXPECT_FALSE(logged("[warning]"));
}

TEST_F(ServerManager, UserProcessIsRestarted) {
  start({.children = {worker(0), user(1)}});
  std::vector<pid_t> pids = wait_all_started(2);
  ASSERT_NE(pids[1], 0);
  ASSERT_EQ(::kill(pids[1], SIGKILL), 0);
  EXPECT_NE(replacement(1, pids[1]), 0);
  EXPECT_TRUE(logged("[warning] user process #1"));
}

// swoole's reload(): SIGUSR1 replaces the workers, then the task workers, one at
// a time; user processes are left alone.
TEST_F(ServerManager, Sigusr1ReplacesWorkersThenTaskWorkersOneAtATime) {
  start({.children = {worker(0), worker(1), task(2), user(3)}, .body = graceful_body});
  std::vector<pid_t> old = wait_all_started(4);
  ASSERT_TRUE(std::all_of(old.begin(), old.end(), [](pid_t p) { return p != 0; }));
  ASSERT_EQ(::kill(mgr_, SIGUSR1), 0);
  ASSERT_TRUE(wait_log("[info] reload done"));

  // Each one gets SIGTERM only after the previous one has been reaped.
  std::string order;
  for (const event& e : history_) {
    if (e.type == 't' || e.type == 'x') order += fmt_event(e);
    if (e.type == 'x') {
      EXPECT_EQ(e.running, 3) << "more than one child away at once";
    }
  }
  EXPECT_EQ(order, "t0 x0 t1 x1 t2 x2 ");
  // Every replacement starts (its report may come a little after "reload done").
  for (int i = 0; i < 3; ++i) EXPECT_NE(replacement(i, old[i]), 0) << "no replacement for " << i;
  // The user process stays.
  EXPECT_FALSE(wait_for([](const event& e) { return e.index == 3 && e.type != 'l'; }, 200ms));
}

TEST_F(ServerManager, Sigusr2ReplacesOnlyTaskWorkers) {
  start({.children = {worker(0), task(1), task(2), user(3)}, .body = graceful_body});
  std::vector<pid_t> old = wait_all_started(4);
  ASSERT_TRUE(std::all_of(old.begin(), old.end(), [](pid_t p) { return p != 0; }));
  ASSERT_EQ(::kill(mgr_, SIGUSR2), 0);
  ASSERT_TRUE(wait_log("[info] reload done"));
  std::string order;
  for (const event& e : history_)
    if (e.type == 't' || e.type == 'x') order += fmt_event(e);
  EXPECT_EQ(order, "t1 x1 t2 x2 ");
  EXPECT_NE(replacement(1, old[1]), 0);
  EXPECT_NE(replacement(2, old[2]), 0);
  EXPECT_FALSE(wait_for(
      [](const event& e) { return (e.index == 0 || e.index == 3) && e.type != 'l'; }, 200ms));
}

TEST_F(ServerManager, ReloadKillsAChildThatIgnoresSigtermAfterMaxWaitTime) {
  start({.children = {worker(0)}, .body = ignore_term_body, .max_wait_time = 0.3});
  std::vector<pid_t> old = wait_all_started(1);
  ASSERT_NE(old[0], 0);
  steady::time_point t0 = steady::now();
  ASSERT_EQ(::kill(mgr_, SIGUSR1), 0);
  std::optional<event> x = wait_exit(0);
  ASSERT_TRUE(x);
  auto waited = steady::now() - t0;
  EXPECT_EQ(x->sig, SIGKILL);
  EXPECT_GE(waited, 250ms);
  EXPECT_LT(waited, 2s);
  EXPECT_NE(replacement(0, old[0]), 0);
  EXPECT_TRUE(logged("did not exit within 0.3 s of SIGTERM; sending SIGKILL"));
}

TEST_F(ServerManager, ReloadAskedForDuringAReloadIsDropped) {
  start({.children = {worker(0), worker(1)}, .body = ignore_term_body, .max_wait_time = 0.3});
  std::vector<pid_t> old = wait_all_started(2);
  ASSERT_TRUE(old[0] && old[1]);
  ASSERT_EQ(::kill(mgr_, SIGUSR1), 0);
  ASSERT_TRUE(wait_log("[info] reloading 2 workers"));
  ASSERT_EQ(::kill(mgr_, SIGUSR1), 0);
  ASSERT_TRUE(wait_log("[info] reload done"));
  EXPECT_TRUE(logged("a reload is in progress; this request is dropped"));
  // Two replacements, no more.
  EXPECT_FALSE(wait_for([](const event& e) { return e.type == 'x'; }, 500ms));
  EXPECT_EQ(
      std::count_if(history_.begin(), history_.end(), [](const event& e) { return e.type == 'x'; }),
      2);
}

TEST_F(ServerManager, SigtermStopsEveryChildWithinMaxWaitTimeAndReturnsZero) {
  start({.children = {worker(0), worker(1), task(2), user(3)},
         .body =
             [](const child_spec& c) {
               if (c.index == 0) ::signal(SIGTERM, SIG_IGN);  // must be SIGKILLed
               announce(c);
               idle_forever();
               return 0;
             },
         .max_wait_time = 0.5});
  std::vector<pid_t> pids = wait_all_started(4);
  ASSERT_TRUE(std::all_of(pids.begin(), pids.end(), [](pid_t p) { return p != 0; }));
  steady::time_point t0 = steady::now();
  ASSERT_EQ(::kill(mgr_, SIGTERM), 0);
  std::optional<int> status = wait_manager(3000ms);
  auto took = steady::now() - t0;
  ASSERT_TRUE(status) << "the manager did not return";
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);
  EXPECT_GE(took, 450ms);
  EXPECT_LT(took, 2s);
  // Nothing is left in the manager's process group.
  errno = 0;
  EXPECT_EQ(::kill(-mgr_, 0), -1);
  EXPECT_EQ(errno, ESRCH);
  for (int i = 0; i < 4; ++i) EXPECT_NE(::kill(pids[i], 0), 0) << "child " << i << " survived";
  // Every end was reported: #0 by SIGKILL, the others by SIGTERM.
  while (next(steady::now() + 200ms)) {
  }
  std::vector<int> sig(4, -1);
  for (const event& e : history_)
    if (e.type == 'x' && e.index >= 0 && e.index < 4) sig[e.index] = e.sig;
  EXPECT_EQ(sig, (std::vector<int>{SIGKILL, SIGTERM, SIGTERM, SIGTERM}));
  EXPECT_TRUE(logged("did not exit within 0.5 s of SIGTERM; sending SIGKILL"));
}

TEST_F(ServerManager, RequestStopFromACallbackEndsRun) {
  start({.children = {worker(0), user(1)},
         .body =
             [](const child_spec& c) {
               announce(c);
               if (c.index == 1) return 0;  // the user process ends at once
               idle_forever();
             },
         .stop_when_index_exits = 1});
  std::optional<int> status = wait_manager(3000ms);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);
  errno = 0;
  EXPECT_EQ(::kill(-mgr_, 0), -1);
  EXPECT_EQ(errno, ESRCH);
}

TEST_F(ServerManager, CrashLoopIsThrottled) {
  start({.children = {worker(0)}, .body = [](const child_spec& c) {
           announce(c);
           return 3;
         }});
  ASSERT_TRUE(wait_start(0));
  steady::time_point deadline = steady::now() + 1500ms;
  while (next(deadline)) {
  }
  long starts =
      std::count_if(history_.begin(), history_.end(), [](const event& e) { return e.type == 's'; });
  EXPECT_GE(starts, 3);   // still restarted...
  EXPECT_LE(starts, 10);  // ...but not 10 a second, let alone as fast as it can
  EXPECT_TRUE(logged("[warning] worker #0"));
  EXPECT_TRUE(logged("exited with status 3; restart in"));
}

}  // namespace
}  // namespace tern::server
