// tern::server task workers, pipe messages and user processes (swoole's
// task/taskwait/taskWaitMulti/finish, sendMessage/onPipeMessage, addProcess).
// docs/server.md ("Tasks, pipe messages and user processes") is the overview.
//
// Channels, made by the master before it forks the manager (so that the
// manager keeps every one and each replacement inherits them):
//  - an inbox per worker and task worker: a unix SOCK_DGRAM socketpair. The
//    owner reads end 0; every other process writes end 1. One datagram is one
//    whole message (tasks, results, pipe messages), so several writers never
//    mix and a reader killed at any moment loses only what it had received:
//    the rest waits in the socket (the manager holds it) for its replacement.
//  - task_ipc_mode 3: one more such socketpair, the shared queue: workers
//    write, every idle task worker reads; the kernel gives each datagram to
//    one reader.
//  - BASE workers: a doorbell pipe per worker (their loop is a socket_server,
//    which cannot read datagrams): a writer rings it after each message.
// A payload over kInlineMax travels in a memfd passed with the datagram
// (SCM_RIGHTS): any size, one datagram.
//
// A sender that finds a destination full waits for room and meanwhile takes
// the messages arriving in its own inbox (kept, handled later), so that two
// processes writing to each other never block each other for good.
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <map>
#include <thread>

#include "server/manager.hpp"
#include "server/server_impl.hpp"

namespace tern::server {

namespace {

constexpr size_t kInlineMax = 64 * 1024;  // larger payloads go in a memfd

enum msg_type : uint8_t { msg_task = 1, msg_result = 2, msg_pipe = 3 };

enum msg_flag : uint8_t {
  f_wait = 1,      // a taskwait / task_wait_multi task (and its result)
  f_callback = 2,  // task() with on_done (and its result)
  f_noreply = 4,   // nobody would receive a result: the task worker sends none
  f_memfd = 8,     // the payload is in the memfd passed with the datagram
  f_none = 16,     // result: the task ended without one (frees on_done, ends a wait)
};

struct msg_header {
  uint8_t type = 0;
  uint8_t flags = 0;
  uint16_t reserved = 0;
  int32_t src = 0;      // the sender's worker id
  int32_t task_id = 0;  // tasks and results
  uint32_t len = 0;     // payload bytes (inline or in the memfd)
};
static_assert(sizeof(msg_header) == 16);

struct message {
  msg_header h;
  std::string data;
};

// Shared memory: task ids and task worker load. Lock-free atomics only.
struct task_row {  // per worker id (workers, task workers, user processes)
  std::atomic<int32_t> pid{0};
  std::atomic<uint32_t> next_task{0};  // a worker's task ids (kept across its restarts)
  std::atomic<uint64_t> sent{0};       // a task worker: tasks written to its inbox
  std::atomic<uint64_t> taken{0};      //   tasks it took from its inbox
  std::atomic<uint64_t> qtaken{0};     //   tasks it took from the shared queue
  std::atomic<uint64_t> done{0};  //   tasks it finished (a replacement starts at taken + qtaken)
};

struct task_shared {
  std::atomic<uint64_t> round_robin{0};
  std::atomic<uint64_t> queue_sent{0};
  task_row* rows() { return reinterpret_cast<task_row*>(this + 1); }
};

volatile sig_atomic_t t_term = 0;
int t_sig_wfd = -1;

void on_task_term(int) {
  int saved = errno;
  t_term = 1;
  if (t_sig_wfd >= 0) {
    char b = 1;
    ssize_t ignored = ::write(t_sig_wfd, &b, 1);
    (void)ignored;
  }
  errno = saved;
}

constexpr int kDropped = -1, kBroken = -2;  // recv_msg()

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

struct task_state {
  struct channel {
    int rd = -1, wr = -1;
  };
  int workers = 0, task_workers = 0, users = 0;
  std::vector<channel> inbox;  // per worker id < workers + task_workers
  std::vector<channel> bell;   // BASE: per worker
  channel queue;               // task_ipc_mode 3
  task_shared* shared = nullptr;
  size_t shared_size = 0;

  // This process.
  int my_inbox = -1;             // the read end of its inbox
  std::deque<message> deferred;  // taken while waiting (to send, or for a result); handled in order
  std::unordered_map<int, std::function<void(server&, int, std::string_view)>>
      callbacks;  // task id -> on_done
  std::vector<char> rbuf;
  uint64_t tasks_run = 0;
  struct {
    bool active = false, finished = false;
    int id = 0, src = 0;
    uint8_t flags = 0;
  } current;  // the task on_task is running (task worker)

  task_row& row(int id) { return shared->rows()[id]; }

  void close_all() {
    for (auto& c : inbox) close_fd(c.rd), close_fd(c.wr);
    for (auto& c : bell) close_fd(c.rd), close_fd(c.wr);
    close_fd(queue.rd);
    close_fd(queue.wr);
  }
};

namespace {

// --- datagrams -------------------------------------------------------------------

// Takes one message from fd (non-blocking). 1: got one, 0: none waiting,
// kDropped: a bad message was dropped (*why says which), kBroken: the socket failed.
int recv_msg(task_state& ts, int fd, message& out, std::string* why) {
  if (ts.rbuf.size() < sizeof(msg_header) + kInlineMax)
    ts.rbuf.resize(sizeof(msg_header) + kInlineMax);
  for (;;) {
    iovec iov{ts.rbuf.data(), ts.rbuf.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = control;
    mh.msg_controllen = sizeof control;
    ssize_t n = ::recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      *why = fmt::format("recvmsg: {}", std::strerror(errno));
      return kBroken;
    }
    std::vector<int> fds;
    for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; ++i) {
          int f;
          std::memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof f);
          fds.push_back(f);
        }
      }
    auto drop = [&](std::string text) {
      for (int f : fds) ::close(f);
      *why = std::move(text);
      return kDropped;
    };
    if (size_t(n) < sizeof(msg_header) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
      return drop(fmt::format("a malformed message ({} bytes) was dropped", n));
    std::memcpy(&out.h, ts.rbuf.data(), sizeof out.h);
    if (out.h.flags & f_memfd) {
      if (fds.empty()) return drop("a message without its payload was dropped");
      out.data.resize(out.h.len);
      size_t got = 0;
      while (got < out.data.size()) {
        ssize_t r = ::pread(fds[0], out.data.data() + got, out.data.size() - got, off_t(got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0)
          return drop(
              fmt::format("a message's payload could not be read ({})", std::strerror(errno)));
        got += size_t(r);
      }
    } else {
      if (size_t(n) - sizeof(msg_header) != out.h.len)
        return drop("a message of the wrong length was dropped");
      out.data.assign(ts.rbuf.data() + sizeof(msg_header), out.h.len);
    }
    for (int f : fds) ::close(f);
    return 1;
  }
}

void ring(int bell_wr) {
  if (bell_wr < 0) return;
  char b = 1;
  ssize_t ignored = ::write(bell_wr, &b, 1);  // full: it rings already
  (void)ignored;
}

// Everything waiting in this process's inbox, into `deferred` (handled later).
void take_inbox(server::impl& d) {
  task_state& ts = *d.tstate;
  if (ts.my_inbox < 0) return;
  for (;;) {
    message m;
    std::string why;
    int r = recv_msg(ts, ts.my_inbox, m, &why);
    if (r == 0) return;
    if (r < 0) {
      d.log(log_level::warning, why);
      if (r == kBroken) return;
      continue;
    }
    if (m.h.type == msg_task && d.who == role::task_worker) ts.row(d.my_worker_id).taken++;
    ts.deferred.push_back(std::move(m));
  }
}

// Writes one message to `fd` (an inbox or the queue), then rings `bell_wr`.
// Waits while the destination is full (taking this process's own messages
// meanwhile), until deadline_ms (-1: no limit). False with *why.
bool send_msg(server::impl& d, int fd, int bell_wr, msg_header h, std::string_view payload,
              int64_t deadline_ms, std::string* why) {
  int memfd = -1;
  h.len = uint32_t(payload.size());
  if (payload.size() > UINT32_MAX) {
    *why = "the message is larger than 4 GiB";
    return false;
  }
  if (payload.size() > kInlineMax) {
    memfd = ::memfd_create("tern-ipc", MFD_CLOEXEC);
    if (memfd < 0) {
      *why = fmt::format("memfd_create: {}", std::strerror(errno));
      return false;
    }
    size_t off = 0;
    while (off < payload.size()) {
      ssize_t r = ::write(memfd, payload.data() + off, payload.size() - off);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        *why = fmt::format("writing the payload: {}", std::strerror(errno));
        ::close(memfd);
        return false;
      }
      off += size_t(r);
    }
    h.flags |= f_memfd;
  }
  iovec iov[2] = {{&h, sizeof h},
                  {const_cast<char*>(payload.data()), memfd >= 0 ? 0 : payload.size()}};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr mh{};
  mh.msg_iov = iov;
  mh.msg_iovlen = iov[1].iov_len ? 2 : 1;
  if (memfd >= 0) {
    mh.msg_control = control;
    mh.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &memfd, sizeof(int));
  }
  const int own = d.tstate->my_inbox;
  bool ok = false;
  for (;;) {
    ssize_t r = ::sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (r >= 0) {
      ok = true;
      break;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      *why = std::strerror(errno);
      break;
    }
    int wait = 1000;
    if (deadline_ms >= 0) {
      int64_t left = deadline_ms - now_ms();
      if (left <= 0) {
        *why = "the destination stayed full";
        break;
      }
      wait = int(std::min<int64_t>(left, 1000));
    }
    pollfd p[2] = {{fd, POLLOUT, 0}, {own, POLLIN, 0}};
    int n = ::poll(p, own >= 0 ? 2 : 1, wait);
    if (n > 0 && own >= 0 && (p[1].revents & POLLIN)) take_inbox(d);
  }
  if (memfd >= 0) ::close(memfd);
  if (ok) ring(bell_wr);
  return ok;
}

int bell_of(const task_state& ts, int id) {
  return size_t(id) < ts.bell.size() ? ts.bell[size_t(id)].wr : -1;
}

// --- tasks -------------------------------------------------------------------------

// Sends a task; returns its id, or -1 (error() set).
int send_task(server::impl& d, const char* what, std::string_view data, int dst, uint8_t flags,
              int64_t deadline_ms) {
  task_state& ts = *d.tstate;
  const int T = ts.task_workers;
  int fd = -1, target = -1;
  if (dst < 0 && d.cfg.task_ipc_mode == 3) {
    fd = ts.queue.wr;
  } else {
    target = dst;
    if (target < 0) {  // an idle one, round robin; none idle: the next in turn
      uint64_t start = ts.shared->round_robin.fetch_add(1, std::memory_order_relaxed);
      target = int(start % uint64_t(T));
      for (int i = 0; i < T; ++i) {
        int k = int((start + uint64_t(i)) % uint64_t(T));
        task_row& r = ts.row(ts.workers + k);
        if (int64_t(r.sent.load() + r.qtaken.load() - r.done.load()) <= 0) {
          target = k;
          break;
        }
      }
    }
    fd = ts.inbox[size_t(ts.workers + target)].wr;
  }
  msg_header h;
  h.type = msg_task;
  h.flags = flags;
  h.src = d.my_worker_id;
  h.task_id = int32_t(ts.row(d.my_worker_id).next_task.fetch_add(1) % 0x7fffffffu);
  // Counted before it is sent: the task worker may finish it before send_msg returns.
  auto& counter = target >= 0 ? ts.row(ts.workers + target).sent : ts.shared->queue_sent;
  counter++;
  std::string why;
  if (!send_msg(d, fd, -1, h, data, deadline_ms, &why)) {
    counter--;
    d.fail(target >= 0 ? fmt::format("{}: task worker #{}: {}", what, target, why)
                       : fmt::format("{}: the task queue: {}", what, why));
    return -1;
  }
  return h.task_id;
}

// taskwait's deadline: at least 1 ms, at most a year (also for NaN).
int64_t deadline_after(double timeout) {
  double ms = timeout * 1000;
  if (!(ms >= 1)) ms = 1;
  if (ms > 365.0 * 86400 * 1000) ms = 365.0 * 86400 * 1000;
  return now_ms() + int64_t(ms);
}

// Checks shared by task/taskwait/task_wait_multi. False with error().
bool can_task(server::impl& d, const char* what, int dst) {
  if (d.cfg.task_worker_num <= 0 || !d.tstate)
    return d.fail(fmt::format("{}: no task workers (task_worker_num is 0)", what));
  if (d.who == role::task_worker)
    return d.fail(fmt::format("{}: cannot be called in a task worker", what));
  if (d.who != role::worker)
    return d.fail(fmt::format("{}: only in a worker process (in a callback)", what));
  if (dst < -1 || dst >= d.cfg.task_worker_num)
    return d.fail(fmt::format("{}: no task worker #{} (task_worker_num is {})", what, dst,
                              d.cfg.task_worker_num));
  return true;
}

// A worker: results of waited tasks land in `slots` (task id -> result, or
// nullopt once it ended without one); waits until each has come or the
// deadline. Other messages are kept for later.
void wait_results(server::impl& d, std::map<int, std::optional<std::optional<std::string>>>& slots,
                  int64_t deadline) {
  if (!d.outbox.empty()) d.flush_outbox();  // replies collected so far go out before we block
  task_state& ts = *d.tstate;
  size_t open = 0;
  for (auto& [id, s] : slots)
    if (!s) ++open;
  auto match = [&](message& m) {
    if (m.h.type != msg_result || !(m.h.flags & f_wait)) return false;
    auto it = slots.find(m.h.task_id);
    if (it == slots.end() || it->second) return false;
    if (m.h.flags & f_none)
      it->second.emplace(std::nullopt);
    else
      it->second.emplace(std::move(m.data));
    --open;
    return true;
  };
  // Results may have been kept already (taken while a later task was being sent).
  for (auto it = ts.deferred.begin(); it != ts.deferred.end() && open > 0;)
    it = match(*it) ? ts.deferred.erase(it) : it + 1;
  while (open > 0) {
    int64_t left = deadline - now_ms();
    if (left <= 0) break;
    pollfd p{ts.my_inbox, POLLIN, 0};
    int n = ::poll(&p, 1, int(std::min<int64_t>(left, INT32_MAX)));
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    for (;;) {
      message m;
      std::string why;
      int r = recv_msg(ts, ts.my_inbox, m, &why);
      if (r == 0) break;
      if (r < 0) {
        d.log(log_level::warning, why);
        if (r == kBroken) return;
        continue;
      }
      if (!match(m)) ts.deferred.push_back(std::move(m));
    }
  }
}

// A result for this worker, outside a wait.
void on_result(server::impl& d, message& m) {
  task_state& ts = *d.tstate;
  server& s = *d.self;
  const int id = m.h.task_id;
  if (m.h.flags & f_wait) {  // its taskwait gave up
    if (!(m.h.flags & f_none))
      d.log(log_level::notice,
            fmt::format("the result of task {} came after its taskwait gave up; dropped", id));
    return;
  }
  if (m.h.flags & f_callback) {
    auto it = ts.callbacks.find(id);
    if (it != ts.callbacks.end()) {
      auto fn = std::move(it->second);
      ts.callbacks.erase(it);
      if (!(m.h.flags & f_none)) d.run_callback("on_finish", [&] { fn(s, id, m.data); });
      return;
    }
    // Sent by this worker's previous process: its callback is gone; on_finish stands in.
  }
  if (m.h.flags & f_none) return;
  if (s.on_finish)
    d.run_callback("on_finish", [&] { s.on_finish(s, id, m.data); });
  else
    d.log(log_level::warning,
          fmt::format("task {} finished but on_finish is not set: result dropped", id));
}

bool send_result(server::impl& d, std::string_view data, uint8_t extra) {
  task_state& ts = *d.tstate;
  const int src = ts.current.src;
  if (src < 0 || src >= ts.workers)
    return d.fail(fmt::format("finish: no worker #{} to send the result to", src));
  msg_header h;
  h.type = msg_result;
  h.flags = uint8_t((ts.current.flags & (f_wait | f_callback)) | extra);
  h.src = d.my_worker_id;
  h.task_id = ts.current.id;
  std::string why;
  if (!send_msg(d, ts.inbox[size_t(src)].wr, bell_of(ts, src), h, data, -1, &why))
    return d.fail(fmt::format("finish: to worker #{}: {}", src, why));
  return true;
}

// A task worker runs one task.
void run_task(server::impl& d, message& m) {
  task_state& ts = *d.tstate;
  server& s = *d.self;
  ts.current.active = true;
  ts.current.finished = false;
  ts.current.id = m.h.task_id;
  ts.current.src = m.h.src;
  ts.current.flags = m.h.flags;
  std::optional<std::string> result;
  if (s.on_task)
    d.run_callback("on_task", [&] { result = s.on_task(s, m.h.task_id, m.h.src, m.data); });
  if (!ts.current.finished && !(m.h.flags & f_noreply)) {
    if (result) {
      if (!send_result(d, *result, 0)) d.log(log_level::warning, d.error);
    } else if (m.h.flags & (f_wait | f_callback)) {
      send_result(d, {}, f_none);  // frees the waiter / the callback
    }
  }
  ts.current.active = false;
  ts.row(d.my_worker_id).done++;
  ++ts.tasks_run;
  if (d.cfg.task_max_request > 0 && ts.tasks_run >= uint64_t(d.cfg.task_max_request) &&
      !d.recycle) {
    d.recycle = true;
    d.log(log_level::info, fmt::format("task_max_request ({}) reached: leaving for a fresh process",
                                       d.cfg.task_max_request));
  }
}

void dispatch(server::impl& d, message& m) {
  server& s = *d.self;
  switch (m.h.type) {
    case msg_pipe:
      if (s.on_pipe_message)
        d.run_callback("on_pipe_message", [&] { s.on_pipe_message(s, m.h.src, m.data); });
      else
        d.log(log_level::warning,
              fmt::format("a message from worker #{} but on_pipe_message is not set", m.h.src));
      break;
    case msg_task:
      if (d.who == role::task_worker)
        run_task(d, m);
      else
        d.log(log_level::warning, "a task came to a worker; dropped");
      break;
    case msg_result:
      if (d.who == role::worker)
        on_result(d, m);
      else
        d.log(log_level::warning, "a task result came to a task worker; dropped");
      break;
    default:
      d.log(log_level::warning, fmt::format("unknown message type {}; dropped", int(m.h.type)));
      break;
  }
}

void run_deferred(server::impl& d) {
  task_state& ts = *d.tstate;
  while (!ts.deferred.empty()) {
    message m = std::move(ts.deferred.front());
    ts.deferred.pop_front();
    dispatch(d, m);
  }
}

// A task worker or user process, after the manager forked it: the worker
// socketpairs and (BASE) the listening sockets are not its business.
void enter_child(server::impl& d, int id, role r) {
  d.who = r;
  d.my_worker_id = id;
  d.my_manager_pid = getppid();
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != d.my_manager_pid) raise(SIGTERM);
  for (auto& p : d.pipes)
    for (int& fd : p) close_fd(fd);
  for (int& fd : d.listen_fds) close_fd(fd);
  d.listen_fds.clear();
  d.enter_channels(id);
  signal(SIGINT, SIG_IGN);  // the master decides about ^C
  signal(SIGUSR1, SIG_IGN);
  signal(SIGUSR2, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  d.stop_self = d.recycle = false;
  d.clear_timers();
  d.tstate->row(id).pid = getpid();
  d.drop_privileges();  // user/group (server_io.cpp)
}

}  // namespace

// --- start(), the master, the manager ---------------------------------------------

bool server::impl::check_tasks() {
  if (cfg.task_worker_num > 0 && !self->on_task)
    return fail("task_worker_num is set but on_task is not (a task worker needs it)");
  return true;
}

bool server::impl::prepare_tasks() {
  auto t = std::make_shared<task_state>();
  t->workers = cfg.worker_num;
  t->task_workers = cfg.task_worker_num;
  t->users = int(user_bodies.size());
  tstate = t;
  t->shared_size =
      sizeof(task_shared) + sizeof(task_row) * size_t(t->workers + t->task_workers + t->users);
  void* mem =
      mmap(nullptr, t->shared_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return fail(fmt::format("mmap: {}", std::strerror(errno)));
  t->shared = new (mem) task_shared();
  for (int i = 0; i < t->workers + t->task_workers + t->users; ++i)
    new (&t->shared->rows()[i]) task_row();

  auto dgram_pair = [&](task_state::channel& c) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) != 0)
      return fail(fmt::format("socketpair: {}", std::strerror(errno)));
    // Room for many messages (the kernel caps it at wmem_max, then doubles it).
    int size = 1 << 20;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    c.rd = sv[0];
    c.wr = sv[1];
    return true;
  };
  t->inbox.resize(size_t(t->workers + t->task_workers));
  for (auto& c : t->inbox)
    if (!dgram_pair(c)) return false;
  if (t->task_workers > 0 && cfg.task_ipc_mode == 3 && !dgram_pair(t->queue)) return false;
  if (run_mode == mode::base) {
    t->bell.resize(size_t(t->workers));
    for (auto& c : t->bell) {
      int p[2];
      if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0)
        return fail(fmt::format("pipe: {}", std::strerror(errno)));
      c.rd = p[0];
      c.wr = p[1];
    }
  }
  return true;
}

void server::impl::tasks_in_master() {
  if (tstate)
    tstate->close_all();  // the master sends no messages; the shared counters stay (stats())
}

void server::impl::cleanup_tasks() {
  if (!tstate) return;
  tstate->close_all();
  if (tstate->shared) munmap(tstate->shared, tstate->shared_size);
  tstate.reset();
}

void server::impl::add_task_children(std::vector<child_spec>& children) const {
  for (int i = 0; i < cfg.task_worker_num; ++i)
    children.push_back({child_kind::task_worker, cfg.worker_num + i});
  for (size_t i = 0; i < user_bodies.size(); ++i)
    children.push_back({child_kind::user_process, cfg.worker_num + cfg.task_worker_num + int(i)});
}

void server::impl::task_child_exited(int id) {
  if (tstate && id >= 0 && id < tstate->workers + tstate->task_workers + tstate->users)
    tstate->row(id).pid = 0;
}

// In every child: keep the write ends (to send to anyone) and its own read
// ends; close the rest.
void server::impl::enter_channels(int id) {
  if (!tstate) return;
  task_state& t = *tstate;
  for (size_t k = 0; k < t.inbox.size(); ++k)
    if (int(k) != id) close_fd(t.inbox[k].rd);
  for (size_t k = 0; k < t.bell.size(); ++k)
    if (int(k) != id) close_fd(t.bell[k].rd);
  const bool task_worker = id >= t.workers && id < t.workers + t.task_workers;
  if (!task_worker) close_fd(t.queue.rd);
  if (id >= t.workers) close_fd(t.queue.wr);  // only workers send tasks
  t.my_inbox = size_t(id) < t.inbox.size() ? t.inbox[size_t(id)].rd : -1;
  t.deferred.clear();
  t.callbacks.clear();
  t.current = {};
  t.tasks_run = 0;
}

uint64_t server::impl::tasking_num() const {
  if (!tstate || !tstate->shared) return 0;
  int64_t n = int64_t(tstate->shared->queue_sent.load());
  for (int i = 0; i < tstate->task_workers; ++i) {
    task_row& r = tstate->row(tstate->workers + i);
    n += int64_t(r.sent.load()) - int64_t(r.done.load());
  }
  return n > 0 ? uint64_t(n) : 0;
}

// --- the worker loops -----------------------------------------------------------------

int server::impl::inbox_fd() const { return tstate ? tstate->my_inbox : -1; }

int server::impl::inbox_bell_fd() const {
  return tstate && size_t(my_worker_id) < tstate->bell.size()
             ? tstate->bell[size_t(my_worker_id)].rd
             : -1;
}

bool server::impl::inbox_pending() const { return tstate && !tstate->deferred.empty(); }

// A worker's loop: what waits in its inbox (and what was kept), in order.
// At most 64 new messages a call (the loop has clients to serve too).
void server::impl::inbox_ready() {
  if (!tstate || tstate->my_inbox < 0) return;
  run_deferred(*this);
  for (int budget = 64; budget > 0; --budget) {
    message m;
    std::string why;
    int r = recv_msg(*tstate, tstate->my_inbox, m, &why);
    if (r == 0) return;
    if (r < 0) {
      log(log_level::warning, why);
      if (r == kBroken) return;
      continue;
    }
    dispatch(*this, m);
    run_deferred(*this);
  }
  ring(bell_of(*tstate, my_worker_id));  // BASE: come back for the rest
}

int server::impl::task_worker_main(int id) {
  enter_child(*this, id, role::task_worker);
  task_state& t = *tstate;
  task_row& me = t.row(id);
  me.done = me.taken.load() +
            me.qtaken.load();  // what the previous process took and did not finish is lost

  int sp[2];
  if (pipe2(sp, O_CLOEXEC | O_NONBLOCK) == 0) {
    sig_rfd = sp[0];
    sig_wfd = sp[1];
  }
  t_sig_wfd = sig_wfd;
  t_term = 0;
  struct sigaction sa {};
  sa.sa_handler = on_task_term;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);

  server& s = *self;
  if (s.on_worker_start) run_callback("on_worker_start", [&] { s.on_worker_start(s, id); });
  // One message at a time: what is not taken stays for a replacement (or, from
  // the shared queue, for another task worker).
  while (!t_term && !recycle) {
    if (!t.deferred.empty()) {
      message m = std::move(t.deferred.front());
      t.deferred.pop_front();
      dispatch(*this, m);
      continue;
    }
    pollfd fds[3] = {{sig_rfd, POLLIN, 0}, {t.my_inbox, POLLIN, 0}, {t.queue.rd, POLLIN, 0}};
    int n = ::poll(fds, 3, timer_timeout(-1));
    if (n < 0) {
      if (errno == EINTR) continue;
      log(log_level::error, fmt::format("poll: {}", std::strerror(errno)));
      break;
    }
    run_timers();  // between messages (server_timer.cpp)
    if (fds[0].revents & POLLIN) {
      char drain[64];
      while (::read(sig_rfd, drain, sizeof drain) > 0) {
      }
    }
    if (t_term) break;
    message m;
    std::string why;
    int r = 0;
    if (fds[1].revents & POLLIN) {
      r = recv_msg(t, t.my_inbox, m, &why);
      if (r > 0 && m.h.type == msg_task) me.taken++;
    }
    if (r == 0 && (fds[2].revents & POLLIN)) {  // another task worker may have been quicker
      r = recv_msg(t, t.queue.rd, m, &why);
      if (r > 0 && m.h.type == msg_task) me.qtaken++;
    }
    if (r < 0) {
      log(log_level::warning, why);
      if (r == kBroken) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    if (r > 0) dispatch(*this, m);
  }
  // onWorkerExit, then onWorkerStop: a worker has no pending asynchronous
  // events to wait for here, so swoole's repeated onWorkerExit comes once.
  if (s.on_worker_exit) run_callback("on_worker_exit", [&] { s.on_worker_exit(s, id); });
  if (s.on_worker_stop) run_callback("on_worker_stop", [&] { s.on_worker_stop(s, id); });
  return recycle ? kRecycleExit : 0;
}

int server::impl::user_process_main(int id) {
  enter_child(*this, id, role::user_process);  // SIGTERM: the default (it ends the process)
  const size_t index = size_t(id - cfg.worker_num - cfg.task_worker_num);
  try {
    user_bodies.at(index)(*self);
  } catch (const std::exception& e) {
    log(log_level::error, fmt::format("user process #{} threw: {}", id, e.what()));
    return 1;
  } catch (...) {
    log(log_level::error, fmt::format("user process #{} threw a non-standard exception", id));
    return 1;
  }
  return 0;
}

// --- the API -----------------------------------------------------------------------

int server::add_process(std::function<void(server&)> body) {
  auto& d = *impl_;
  if (d.started) {
    d.fail("add_process: after start()");
    return -1;
  }
  if (!body) {
    d.fail("add_process: no function");
    return -1;
  }
  d.user_bodies.push_back(std::move(body));
  return int(d.user_bodies.size()) - 1;
}

bool server::is_task_worker() const { return impl_->who == role::task_worker; }

int server::task(std::string_view data, int dst_task_worker,
                 std::function<void(server&, int task_id, std::string_view)> on_done) {
  auto& d = *impl_;
  if (!can_task(d, "task", dst_task_worker)) return -1;
  uint8_t flags = on_done ? f_callback : (on_finish ? 0 : f_noreply);
  int id = send_task(d, "task", data, dst_task_worker, flags, -1);
  if (id >= 0 && on_done) d.tstate->callbacks[id] = std::move(on_done);
  return id;
}

std::optional<std::string> server::taskwait(std::string_view data, double timeout,
                                            int dst_task_worker) {
  auto& d = *impl_;
  if (!can_task(d, "taskwait", dst_task_worker)) return std::nullopt;
  const int64_t deadline = deadline_after(timeout);
  int id = send_task(d, "taskwait", data, dst_task_worker, f_wait, deadline);
  if (id < 0) return std::nullopt;
  std::map<int, std::optional<std::optional<std::string>>> slots{{id, std::nullopt}};
  wait_results(d, slots, deadline);
  auto& r = slots[id];
  if (!r) {
    d.fail(fmt::format("taskwait: task {} timed out after {} s", id, timeout));
    return std::nullopt;
  }
  if (!*r) d.fail(fmt::format("taskwait: task {} ended without a result", id));
  return std::move(*r);
}

std::vector<std::optional<std::string>> server::task_wait_multi(
    const std::vector<std::string>& tasks, double timeout) {
  auto& d = *impl_;
  std::vector<std::optional<std::string>> out(tasks.size());
  if (!can_task(d, "task_wait_multi", -1)) return out;
  const int64_t deadline = deadline_after(timeout);
  std::vector<int> ids;
  std::map<int, std::optional<std::optional<std::string>>> slots;
  for (const std::string& t : tasks) {
    int id = send_task(d, "task_wait_multi", t, -1, f_wait, deadline);
    ids.push_back(id);
    if (id >= 0) slots.emplace(id, std::nullopt);
  }
  wait_results(d, slots, deadline);
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] >= 0)
      if (auto& r = slots[ids[i]]; r && *r) out[i] = std::move(**r);
  return out;
}

bool server::finish(std::string_view data) {
  auto& d = *impl_;
  if (d.who != role::task_worker) return d.fail("finish: only in a task worker (in on_task)");
  task_state& ts = *d.tstate;
  if (!ts.current.active) return d.fail("finish: no task is running (call it in on_task)");
  if (ts.current.finished)
    return d.fail(fmt::format("finish: task {} has its result already", ts.current.id));
  ts.current.finished = true;
  if (ts.current.flags & f_noreply)
    return d.fail(fmt::format(
        "finish: task {}: the worker has neither on_finish nor a callback for it", ts.current.id));
  return send_result(d, data, 0);
}

bool server::send_message(std::string_view message, int dst_worker_id) {
  auto& d = *impl_;
  if (d.who != role::worker && d.who != role::task_worker && d.who != role::user_process)
    return d.fail("send_message: only in a worker, task worker or user process");
  const int total = d.cfg.worker_num + d.cfg.task_worker_num;
  if (dst_worker_id < 0 || dst_worker_id >= total || !d.tstate)
    return d.fail(fmt::format("send_message: no worker #{} (worker ids are 0..{})", dst_worker_id,
                              total - 1));
  if (dst_worker_id == d.my_worker_id)
    return d.fail(
        fmt::format("send_message: worker #{} cannot send a message to itself", dst_worker_id));
  if (!on_pipe_message) return d.fail("send_message: on_pipe_message is not set");
  msg_header h;
  h.type = msg_pipe;
  h.src = d.my_worker_id;
  std::string why;
  if (!send_msg(d, d.tstate->inbox[size_t(dst_worker_id)].wr, bell_of(*d.tstate, dst_worker_id), h,
                message, -1, &why))
    return d.fail(fmt::format("send_message: to worker #{}: {}", dst_worker_id, why));
  return true;
}

}  // namespace tern::server
