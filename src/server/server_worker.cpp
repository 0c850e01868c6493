// tern::server worker processes, forked by the manager (run_child).
//
// PROCESS mode: the main thread waits on its end of the socketpair and a
// self-pipe (SIGTERM), takes whole frames (peek, then read exactly the
// complete frames seen) and runs the callbacks. A reload or stop (SIGTERM)
// is honoured between batches: every frame taken is handled first, frames not
// taken stay in the socketpair for the replacement.
//
// BASE mode: the main thread runs a socket_server with poll_once(): it
// accepts on the inherited listening sockets, reads, frames and calls the
// callbacks inline; send() writes directly.
#include <fmt/format.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <thread>

#include "server/manager.hpp"
#include "server/server_impl.hpp"
#include "tern/core/types.hpp"

namespace tern::server {

namespace {

volatile sig_atomic_t g_term = 0;
int g_sig_wfd = -1;

void on_term(int) {
  int saved = errno;
  g_term = 1;
  if (g_sig_wfd >= 0) {
    char b = 1;
    ssize_t ignored = ::write(g_sig_wfd, &b, 1);
    (void)ignored;
  }
  errno = saved;
}

constexpr size_t kPeekBytes = 2 * ipc::kMaxFrame;
constexpr int kQueryTimeoutMs = 5000;

std::string host_port(const std::string& host, int port) {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

}  // namespace

void server::impl::enter_worker(int id) {
  who = role::worker;
  my_worker_id = id;
  my_manager_pid = getppid();
  // The manager gone (even by SIGKILL): leave too.
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != my_manager_pid) raise(SIGTERM);

  for (size_t w = 0; w < pipes.size(); ++w)
    if (int(w) != id && pipes[w][1] >= 0) {
      ::close(pipes[w][1]);
      pipes[w][1] = -1;
    }
  pipe_fd = run_mode == mode::process ? pipes[size_t(id)][1] : -1;

  int sp[2];
  if (pipe2(sp, O_CLOEXEC | O_NONBLOCK) == 0) {
    sig_rfd = sp[0];
    sig_wfd = sp[1];
  }
  g_sig_wfd = sig_wfd;
  g_term = 0;
  struct sigaction sa {};
  sa.sa_handler = on_term;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGINT, SIG_IGN);  // the master decides about ^C
  signal(SIGUSR1, SIG_IGN);
  signal(SIGUSR2, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);

  auto& me = shm->workers()[id];
  me.pid = getpid();
  me.request_count = 0;
  me.done = me.taken.load();  // what the previous process took and did not finish is lost
  requests = 0;
  stop_self = recycle = false;
  later.clear();
  partial.clear();
  clear_timers();
  enter_channels(id);  // its inbox, the others' (server_task.cpp)
  drop_privileges();  // user/group (server_io.cpp)
}

void server::impl::count_request() {
  auto& me = shm->workers()[my_worker_id];
  me.done++;
  me.request_count++;
  ++requests;
  if (cfg.max_request > 0 && requests >= uint64_t(cfg.max_request) && !recycle) {
    recycle = true;
    log(log_level::info, fmt::format("max_request ({}) reached: leaving for a fresh process", cfg.max_request));
  }
}

// --- PROCESS mode ------------------------------------------------------------------

int server::impl::worker_main(int id) {
  enter_worker(id);
  server& s = *self;
  if (s.on_worker_start) run_callback("on_worker_start", [&] { s.on_worker_start(s, id); });
  auto handle_batch = [&](size_t size) {
    batching = true;  // replies collect in the outbox (see write_frames)
    size_t at = 0;
    while (at < size) {
      ipc::header h;
      std::memcpy(&h, batch.data() + at, sizeof h);
      handle_event(h, std::string_view(batch.data() + at + sizeof h, h.len));
      at += sizeof h + h.len;
    }
    while (!later.empty()) {
      const std::string& f = later.front();  // deque: stays put while callbacks add more
      ipc::header h;
      std::memcpy(&h, f.data(), sizeof h);
      handle_event(h, std::string_view(f.data() + sizeof h, h.len));
      later.pop_front();
    }
    batching = false;
    flush_outbox();
  };
  while (!g_term && !stop_self && !recycle) {
    pollfd fds[3] = {{pipe_fd, POLLIN, 0}, {sig_rfd, POLLIN, 0}, {inbox_fd(), POLLIN, 0}};
    int n = ::poll(fds, 3, timer_timeout(-1));
    if (n < 0) {
      if (errno == EINTR) continue;
      log(log_level::error, fmt::format("poll: {}", std::strerror(errno)));
      break;
    }
    run_timers();  // between events (server_timer.cpp)
    if (fds[1].revents & POLLIN) {
      char drain[64];
      while (::read(sig_rfd, drain, sizeof drain) > 0) {
      }
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      int got = take_frames(batch, 0);
      if (got < 0) {
        log(log_level::warning, "the master is gone: leaving");
        break;
      }
      handle_batch(size_t(got));
    }
    // Task results, pipe messages, and those kept during a taskwait (server_task.cpp).
    if ((fds[2].revents & POLLIN) || inbox_pending()) inbox_ready();
  }
  // onWorkerExit, then onWorkerStop: a worker has no pending asynchronous
  // events to wait for here, so swoole's repeated onWorkerExit comes once.
  if (s.on_worker_exit) run_callback("on_worker_exit", [&] { s.on_worker_exit(s, id); });
  if (s.on_worker_stop) run_callback("on_worker_stop", [&] { s.on_worker_stop(s, id); });
  return recycle ? kRecycleExit : 0;
}

// Takes the complete frames waiting on the socketpair (never part of one):
// peeks, then reads exactly the bytes of the whole frames seen. Waits up to
// timeout_ms (-1: no limit) for one. Returns the bytes taken into `into`, 0
// if none came in time, -1 if the master's end is closed.
int server::impl::take_frames(std::vector<char>& into, int timeout_ms) {
  int64_t deadline = timeout_ms < 0 ? INT64_MAX : now_ms() + timeout_ms;
  into.resize(kPeekBytes);
  for (;;) {
    ssize_t n = ::recv(pipe_fd, into.data(), into.size(), MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) return -1;
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
      n = 0;
    }
    size_t whole = 0;
    int packets = 0;
    while (size_t(n) - whole >= sizeof(ipc::header)) {
      ipc::header h;
      std::memcpy(&h, into.data() + whole, sizeof h);
      if (h.len > ipc::kMaxChunk) {
        log(log_level::error, "corrupt frame on the socketpair");
        return -1;
      }
      if (sizeof h + h.len > size_t(n) - whole) break;
      if ((h.type == ipc::ev_receive || h.type == ipc::ev_packet) && (h.flags & ipc::kLast)) ++packets;
      whole += sizeof h + h.len;
    }
    if (whole > 0) {
      ssize_t m;
      do m = ::recv(pipe_fd, into.data(), whole, MSG_DONTWAIT);
      while (m < 0 && errno == EINTR);
      if (m != ssize_t(whole)) {  // we are the only reader: cannot happen
        log(log_level::error, fmt::format("socketpair: read {} of {} bytes", m, whole));
        return -1;
      }
      shm->workers()[my_worker_id].taken += uint64_t(packets);
      return int(whole);
    }
    int64_t left = deadline - now_ms();
    if (left <= 0 && timeout_ms >= 0) return 0;
    if (n > 0) {
      // Part of a frame: its writer put it in whole, so the rest is a moment away.
      std::this_thread::sleep_for(std::chrono::microseconds(100));
      continue;
    }
    if (timeout_ms == 0) return 0;
    pollfd p{pipe_fd, POLLIN, 0};
    int r = ::poll(&p, 1, timeout_ms < 0 ? -1 : int(std::min<int64_t>(left, INT32_MAX)));
    if (r < 0 && errno != EINTR) return -1;
  }
}

void server::impl::handle_event(const ipc::header& h, std::string_view payload) {
  server& s = *self;
  const int fd = h.fd, rid = h.reactor;
  switch (h.type) {
    case ipc::ev_receive: {
      std::string whole;
      std::string_view data = payload;
      if (h.flags != ipc::kWhole) {  // a packet in several frames
        auto it = partial.find(fd);
        if (h.flags & ipc::kFirst) {
          if (it == partial.end()) it = partial.emplace(fd, std::string()).first;
          it->second.assign(payload);
        } else if (it == partial.end()) {
          // The rest of a packet whose start the previous process took: drop it.
          if (h.flags & ipc::kLast) shm->workers()[my_worker_id].done++;
          return;
        } else {
          it->second.append(payload);
        }
        if (!(h.flags & ipc::kLast)) return;
        whole.swap(it->second);
        partial.erase(it);
        data = whole;
      }
      if (s.on_receive) run_callback("on_receive", [&] { s.on_receive(s, fd, rid, data); });
      count_request();
      break;
    }
    case ipc::ev_connect:
      if (on_peer && payload.size() >= sizeof(ipc::wire_peer)) {
        ipc::wire_peer wp;
        std::memcpy(&wp, payload.data(), sizeof wp);
        peer_info p{std::string(payload.substr(sizeof wp)), wp.remote_port, wp.server_port, wp.port_index};
        run_callback("on_connect", [&] { on_peer(fd, p); });
      }
      if (s.on_connect) run_callback("on_connect", [&] { s.on_connect(s, fd, rid); });
      break;
    case ipc::ev_close:
      partial.erase(fd);
      if (s.on_close) run_callback("on_close", [&] { s.on_close(s, fd, rid); });
      break;
    case ipc::ev_buffer_full:
      if (s.on_buffer_full) run_callback("on_buffer_full", [&] { s.on_buffer_full(s, fd); });
      break;
    case ipc::ev_buffer_empty:
      if (s.on_buffer_empty) run_callback("on_buffer_empty", [&] { s.on_buffer_empty(s, fd); });
      break;
    case ipc::ev_reply:  // to a query that gave up waiting
      break;
    case ipc::ev_packet:  // UDP (server_io.cpp)
      handle_packet(h, payload);
      break;
    default:
      log(log_level::warning, fmt::format("unknown frame type {} from the master", int(h.type)));
      break;
  }
}

// Frames to the master: each written whole (blocking), so that a worker
// killed at any moment leaves no half frame in the stream.
bool server::impl::write_frames(uint8_t type, int fd, uint32_t arg, std::string_view payload) {
  if (pipe_fd < 0) return false;
  // While a batch of events runs, frames collect in the outbox and go out in
  // one write after it (one syscall for many replies); the outbox never holds
  // more than one frame's worth, so each write stays short and whole.
  return ipc::for_each_frame(type, fd, 0, arg, payload, [&](const ipc::header& h, std::string_view chunk) {
    if (outbox.size() + sizeof h + chunk.size() > ipc::kMaxFrame && !flush_outbox()) return false;
    ipc::append_frame(outbox, h, chunk);
    return batching || flush_outbox();
  });
}

bool server::impl::flush_outbox() {
  size_t sent = 0;
  while (sent < outbox.size()) {
    ssize_t r = ::send(pipe_fd, outbox.data() + sent, outbox.size() - sent, MSG_NOSIGNAL);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        pollfd p{pipe_fd, POLLOUT, 0};
        ::poll(&p, 1, 100);
        continue;
      }
      outbox.clear();
      return false;
    }
    sent += size_t(r);
  }
  outbox.clear();
  return true;
}

// A question to the master; waits for its reply. Frames that arrive
// meanwhile are kept (in order) for the main loop.
std::optional<std::string> server::impl::query(uint8_t type, int fd, std::string_view params) {
  if (who != role::worker || run_mode != mode::process) return std::nullopt;
  uint32_t id = ++next_request;
  if (id == 0) id = ++next_request;
  if (!write_frames(type, fd, id, params) || !flush_outbox()) {  // the question goes out now
    fail("the master is gone");
    return std::nullopt;
  }
  std::string answer;
  std::vector<char> buf;
  int64_t deadline = now_ms() + kQueryTimeoutMs;
  for (;;) {
    int64_t left = deadline - now_ms();
    if (left <= 0) {
      log(log_level::warning, "no reply from the master in 5 s");
      fail("no reply from the master");
      return std::nullopt;
    }
    int got = take_frames(buf, int(left));
    if (got < 0) {
      fail("the master is gone");
      return std::nullopt;
    }
    bool done = false;
    size_t at = 0;
    while (at < size_t(got)) {
      ipc::header h;
      std::memcpy(&h, buf.data() + at, sizeof h);
      if (!done && h.type == ipc::ev_reply && h.arg == id) {
        answer.append(buf.data() + at + sizeof h, h.len);
        if (h.flags & ipc::kLast) done = true;
      } else {
        later.emplace_back(buf.data() + at, sizeof h + h.len);
      }
      at += sizeof h + h.len;
    }
    if (done) return answer;
  }
}

// --- BASE mode ---------------------------------------------------------------------

int server::impl::base_worker_main(int id) {
  enter_worker(id);
  server& s = *self;
  base_ss = std::make_unique<net::socket_server>([this](uint32_t owner, net::socket_event& ev) { base_event(owner, ev); });
  base_ss->set_logger([this](std::string_view m) { log(log_level::warning, m); });
  base_listener_sids.clear();
  for (size_t i = 0; i < listen_fds.size(); ++i) {
    uint32_t owner = kListenOwner | uint32_t(i);
    const bool udp = is_udp(i);  // UDP: every worker reads the shared socket
    int sid = udp ? base_ss->adopt_udp(owner, listen_fds[i]) : base_ss->adopt_listener(owner, listen_fds[i]);
    if (sid < 0) log(log_level::error, fmt::format("cannot accept on listener #{}", i));
    base_listener_sids.push_back(sid);
    if (sid >= 0 && !udp) base_ss->start(owner, sid);
  }
  if (sig_rfd >= 0) {
    int sid = base_ss->bind(kSignalOwner, sig_rfd);
    if (sid >= 0) base_ss->start(kSignalOwner, sid);
  }
  if (int bell = inbox_bell_fd(); bell >= 0) {  // rung after each message to this worker's inbox
    int sid = base_ss->bind(kInboxOwner, bell);
    if (sid >= 0) base_ss->start(kInboxOwner, sid);
  }
  if (s.on_worker_start) run_callback("on_worker_start", [&] { s.on_worker_start(s, id); });

  const int interval = cfg.heartbeat_check_interval;
  int64_t next_check = now_ms() + int64_t(interval) * 1000;
  while (!g_term && !stop_self && !recycle) {
    int timeout = interval > 0 ? int(std::max<int64_t>(0, next_check - now_ms())) : -1;
    if (base_ss->poll_once(timer_timeout(timeout)) < 0) break;
    run_timers();  // between events (server_timer.cpp)
    if (inbox_pending()) inbox_ready();  // messages kept during a taskwait (server_task.cpp)
    if (interval > 0 && now_ms() >= next_check) {
      heartbeat_check();
      next_check = now_ms() + int64_t(interval) * 1000;
    }
  }

  // Leaving: stop accepting (the other workers go on), close this worker's
  // connections (their on_close runs), give them max_wait_time to go.
  for (size_t i = 0; i < base_listener_sids.size(); ++i)
    if (base_listener_sids[i] >= 0) base_ss->pause(kListenOwner | uint32_t(i), base_listener_sids[i]);
  for (const connection_ptr& c : conns.all()) close_connection(*c, false);
  int64_t deadline = now_ms() + int64_t(cfg.max_wait_time * 1000);
  base_ss->poll_once(0);
  while (conns.size() > 0 && now_ms() < deadline)
    if (base_ss->poll_once(20) < 0) break;
  if (conns.size() > 0)
    log(log_level::warning, fmt::format("{} connection(s) still open after max_wait_time: dropped", conns.size()));
  // onWorkerExit, then onWorkerStop: a worker has no pending asynchronous
  // events to wait for here, so swoole's repeated onWorkerExit comes once.
  if (s.on_worker_exit) run_callback("on_worker_exit", [&] { s.on_worker_exit(s, id); });
  if (s.on_worker_stop) run_callback("on_worker_stop", [&] { s.on_worker_stop(s, id); });
  base_ss->stop();
  base_ss.reset();
  return recycle ? kRecycleExit : 0;
}

void server::impl::base_event(uint32_t owner, net::socket_event& ev) {
  if (owner == kSignalOwner) {  // the self-pipe: SIGTERM; the loop checks the flag
    mem_free(ev.buffer);
    return;
  }
  if (owner == kInboxOwner) {  // the doorbell: messages wait in the inbox
    mem_free(ev.buffer);
    if (ev.type == net::socket_event_type::data) inbox_ready();
    return;
  }
  if ((owner & 0xC0000000u) == kListenOwner) {
    if (ev.type == net::socket_event_type::accept) base_accept(int(owner & 0x3fffffffu), ev.ud, ev.text);
    if (ev.type == net::socket_event_type::udp) udp_event(int(owner & 0x3fffffffu), ev);  // frees the buffer
    mem_free(ev.buffer);
    return;
  }
  client_event(owner, ev);
}

void server::impl::base_accept(int index, int sid, const std::string& peer) {
  // "1.2.3.4:5" or "[::1]:5"
  std::string ip = peer;
  int port = 0;
  size_t colon = peer.rfind(':');
  if (colon != std::string::npos) {
    ip = peer.substr(0, colon);
    port = std::atoi(peer.c_str() + colon + 1);
    if (ip.size() >= 2 && ip.front() == '[') ip = ip.substr(1, ip.size() - 2);
  }
  uint32_t lowner = kListenOwner | uint32_t(index);
  if (shm->connection_num.load() >= uint64_t(cfg.max_conn)) {
    log(log_level::warning,
        fmt::format("max_conn ({}) reached: refused a connection from {}", cfg.max_conn, host_port(ip, port)));
    base_ss->shutdown(lowner, sid);
    return;
  }
  connection_ptr c = new_connection(index, ip, port);
  c->reactor = my_worker_id;
  c->sid = sid;
  if (port_cfg[size_t(index)].open_tcp_nodelay) base_ss->nodelay(sid);
  auto [high, low] = watermarks(*c);
  base_ss->set_warning(sid, high, low);
  shm->connection_num++;
  shm->accept_count++;
  conns.add(c);
  base_ss->start(uint32_t(c->session), sid);  // reports connect, then reads
}

}  // namespace tern::server
