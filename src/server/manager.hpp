// tern::server::manager: the manager process (swoole's). Forked by the master
// before any thread exists, it forks the worker, task-worker and user
// processes, restarts one that exits (logging how it ended), and reloads:
// SIGUSR1 replaces the workers and then the task workers (swoole's reload()),
// SIGUSR2 only the task workers; one process at a time: it gets SIGTERM and,
// after max_wait_time, SIGKILL; its replacement is forked as soon as it has
// been reaped, then the next one is asked to leave. User processes are never
// reloaded (swoole: addProcess processes are not), only restarted. A reload
// asked for while one runs is dropped (swoole's protection).
// SIGTERM stops every child the same way (all at once), then run() returns 0.
//
// A child that leaves with exit code kRecycleExit (max_request reached) is
// replaced with an info line, not a warning. A child that dies abnormally less
// than 1 s after it started is restarted after 100 ms, doubling per repeat up
// to 1 s; no child is started more than 10 times a second.
//
// Log lines begin with "[info] ", "[warning] " or "[error] ", e.g.
//   [warning] worker #1 (pid 4242) killed by signal 9 (SIGKILL)
//   [warning] task worker #2 (pid 4243) exited with status 3; restart in 200 ms
//   [info] worker #0 (pid 4244) recycled (exit code 75)
//
// Threading: single-threaded; run() blocks in the manager process. Nothing here
// may be used in a process that has threads, except run_child's callee. One
// manager runs per process at a time (signal handlers are process-wide); run()
// reaps every child of the process (waitpid(-1)), so callbacks must not fork.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace tern::server {

enum class child_kind { worker, task_worker, user_process };

struct child_spec {
  child_kind kind;
  int index;  // worker id: 0..worker_num-1, task workers follow, user processes after
};

inline constexpr int kRecycleExit = 75;  // "recycle me" (max_request)

class manager {
 public:
  struct options {
    std::vector<child_spec> children;
    double max_wait_time = 3;  // seconds between SIGTERM and SIGKILL
    // Runs in the forked child (signal dispositions default, mask empty); its
    // return value is the child's exit code (an exception: 1). Default: exit 0.
    std::function<int(const child_spec&)> run_child;
    // Called in the manager for each child that ended; `signal` is 0 when it exited.
    std::function<void(const child_spec&, pid_t pid, int exit_code, int signal)> on_child_exit;
    std::function<void(std::string_view)> log;  // default: stderr
    // If nonzero, prctl(PR_SET_PDEATHSIG) for the manager: SIGTERM makes it
    // stop when the process that forked it (the master) dies, as swoole's does.
    int parent_death_signal = 0;
  };

  explicit manager(options o);
  // Forks every child, then supervises until SIGTERM (or request_stop()),
  // stops every child and returns 0.
  int run();

  // In the manager process: what a signal handler would do (SIGUSR2 / SIGUSR1,
  // SIGTERM), e.g. from a callback. Called before run(), it acts when run() starts.
  void request_reload(bool task_workers_only);
  void request_stop();

  [[nodiscard]] std::vector<pid_t> pids() const;  // by children index, 0 if not running

 private:
  struct state;
  options opt_;
  std::vector<pid_t> pids_;
};

}  // namespace tern::server
