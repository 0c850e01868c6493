// tern::net::socket_server: the socket thread.
//
// Threading model:
// - The socket thread owns the epoll set. It alone reads, accepts, finishes
//   connects, changes epoll interest and calls the sink.
// - Other threads reach it through a command queue (mutex + eventfd). Commands
//   carry the full socket id; the socket thread drops any whose id is stale.
// - Each slot has a mutex guarding what other threads look at: the descriptor
//   (written to by send(), closed by the socket thread), the write lists, the
//   state and the netstat fields. send() takes it and may write at once; the
//   socket thread takes it to write queued bytes and to close.
// - The sink is never called with a slot lock held, so it may call back into
//   the server (anything but stop()).
// - connect() to a host name is resolved on a resolver thread (started on first
//   use) that posts the addresses back as a command.
#include "net/socket_server.hpp"

#include <arpa/inet.h>
#include <pthread.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <system_error>
#include <thread>

#include "core/clock.hpp"
#include "tern/core/types.hpp"

namespace tern::net {

namespace {

constexpr int kSlotBits = 16;
constexpr int kSlots = 1 << kSlotBits;
constexpr int kPageSize = 256;  // slots are allocated a page at a time, on first use
constexpr int kPages = kSlots / kPageSize;
constexpr int kMaxEvents = 64;
constexpr int kMinRead = 64;
constexpr int kMaxRead = 1 << 20;
constexpr size_t kWarnBytes = size_t(1) << 20;
constexpr size_t kUdpMax = 65535;
constexpr int kAcceptBackoffMs = 100;
constexpr uint64_t kCommandTag = ~uint64_t(0);  // epoll data of the eventfd; socket ids are < 2^31

enum class state : uint8_t {
  invalid,
  reserve,
  plisten,
  listen,
  connecting,
  connected,
  halfclose_read,   // no more reading: the peer closed (the owner may still write, then close), or close() is flushing
  halfclose_write,  // shutdown(SHUT_WR) done; reading goes on
  paccept,
  bind,
};

std::string errno_text(int err) { return std::system_category().message(err); }

// "127.0.0.1:80", "[::1]:80".
std::string host_port(std::string_view host, int port) {
  if (host.find(':') != std::string_view::npos && !host.starts_with('['))
    return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

std::string sockaddr_text(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (sa->sa_family == AF_INET) {
    auto* a = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
    return host_port(buf, ntohs(a->sin_port));
  }
  if (sa->sa_family == AF_INET6) {
    auto* a = reinterpret_cast<const sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
    return host_port(buf, ntohs(a->sin6_port));
  }
  return "unknown";
}

std::string strip_brackets(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return std::string(host);
}

// A numeric IPv4 or IPv6 address (brackets allowed), without any lookup.
bool parse_numeric(std::string_view host, int port, sockaddr_storage* out, socklen_t* len) {
  std::string h = strip_brackets(host);
  std::memset(out, 0, sizeof *out);
  auto* v4 = reinterpret_cast<sockaddr_in*>(out);
  if (inet_pton(AF_INET, h.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(uint16_t(port));
    *len = sizeof *v4;
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(out);
  if (inet_pton(AF_INET6, h.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(uint16_t(port));
    *len = sizeof *v6;
    return true;
  }
  return false;
}

// Numeric, or else getaddrinfo's first answer. Blocks on a name: only for
// listen/udp/udp_connect, which run on the caller's thread (as in skynet).
bool resolve_first(std::string_view host, int port, int socktype, sockaddr_storage* out,
                   socklen_t* len, std::string* error) {
  if (port < 0 || port > 65535) {
    *error = "bad port";
    return false;
  }
  if (parse_numeric(host, port, out, len)) return true;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = socktype;
  addrinfo* res = nullptr;
  std::string h = strip_brackets(host);
  int rc = getaddrinfo(h.c_str(), nullptr, &hints, &res);
  if (rc != 0 || !res) {
    *error = rc == EAI_SYSTEM ? errno_text(errno) : gai_strerror(rc);
    return false;
  }
  std::memcpy(out, res->ai_addr, res->ai_addrlen);
  *len = res->ai_addrlen;
  freeaddrinfo(res);
  if (out->ss_family == AF_INET)
    reinterpret_cast<sockaddr_in*>(out)->sin_port = htons(uint16_t(port));
  else
    reinterpret_cast<sockaddr_in6*>(out)->sin6_port = htons(uint16_t(port));
  return true;
}

bool default_resolve(const std::string& host, std::vector<std::string>* addresses, std::string* error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0) {
    *error = rc == EAI_SYSTEM ? errno_text(errno) : gai_strerror(rc);
    return false;
  }
  for (addrinfo* p = res; p; p = p->ai_next) {
    char buf[INET6_ADDRSTRLEN] = {};
    const void* a = p->ai_family == AF_INET
                        ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(p->ai_addr)->sin_addr)
                        : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(p->ai_addr)->sin6_addr);
    if ((p->ai_family == AF_INET || p->ai_family == AF_INET6) && inet_ntop(p->ai_family, a, buf, sizeof buf)) {
      std::string s(buf);
      bool seen = false;
      for (auto& x : *addresses) seen = seen || x == s;
      if (!seen) addresses->push_back(std::move(s));
    }
  }
  freeaddrinfo(res);
  if (addresses->empty()) *error = "no address";
  return !addresses->empty();
}

bool to_compact(const sockaddr* sa, udp_address* out) {
  if (sa->sa_family == AF_INET) {
    auto* a = reinterpret_cast<const sockaddr_in*>(sa);
    out->bytes[0] = 1;
    std::memcpy(out->bytes + 1, &a->sin_port, 2);
    std::memcpy(out->bytes + 3, &a->sin_addr, 4);
    out->size = 7;
    return true;
  }
  if (sa->sa_family == AF_INET6) {
    auto* a = reinterpret_cast<const sockaddr_in6*>(sa);
    out->bytes[0] = 2;
    std::memcpy(out->bytes + 1, &a->sin6_port, 2);
    std::memcpy(out->bytes + 3, &a->sin6_addr, 16);
    out->size = 19;
    return true;
  }
  return false;
}

bool from_compact(const udp_address& a, sockaddr_storage* out, socklen_t* len) {
  std::memset(out, 0, sizeof *out);
  if (a.size == 7 && a.bytes[0] == 1) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(out);
    v4->sin_family = AF_INET;
    std::memcpy(&v4->sin_port, a.bytes + 1, 2);
    std::memcpy(&v4->sin_addr, a.bytes + 3, 4);
    *len = sizeof *v4;
    return true;
  }
  if (a.size == 19 && a.bytes[0] == 2) {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(out);
    v6->sin6_family = AF_INET6;
    std::memcpy(&v6->sin6_port, a.bytes + 1, 2);
    std::memcpy(&v6->sin6_addr, a.bytes + 3, 16);
    *len = sizeof *v6;
    return true;
  }
  return false;
}

int compact_family(const udp_address& a) {
  return a.size == 7 ? AF_INET : a.size == 19 ? AF_INET6 : AF_UNSPEC;
}

void set_keepalive(int fd) {
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
}

uint64_t now_ms() { return monotonic_ns() / 1000000u; }

// One queued buffer. `base` came from mem_alloc and is freed once written.
struct wbuf {
  wbuf* next = nullptr;
  char* base = nullptr;
  char* ptr = nullptr;
  size_t left = 0;
  udp_address to;  // UDP only: where the datagram goes
};

struct wlist {
  wbuf* head = nullptr;
  wbuf* tail = nullptr;
  [[nodiscard]] bool empty() const { return head == nullptr; }
  void push_back(wbuf* b) {
    b->next = nullptr;
    if (tail)
      tail->next = b;
    else
      head = b;
    tail = b;
  }
  wbuf* pop_front() {
    wbuf* b = head;
    head = b->next;
    if (!head) tail = nullptr;
    b->next = nullptr;
    return b;
  }
  void clear() {
    while (head) {
      wbuf* b = pop_front();
      mem_free(b->base);
      delete b;
    }
  }
};

// A connect in progress: the numeric addresses left to try.
struct connect_plan {
  std::vector<std::string> hosts;
  size_t next = 0;
  int port = 0;
  std::string display;  // "host:port" as the caller wrote it, for messages
  int last_error = ECONNREFUSED;
};

struct slot {
  std::mutex mu;
  std::atomic<int> id{-1};
  std::atomic<state> st{state::invalid};

  // Written under mu. The socket thread may read them without it: once a slot
  // is live, only the socket thread writes them.
  int fd = -1;
  int family = AF_UNSPEC;
  uint32_t owner = 0;
  bool udp = false;
  bool adopted = false;    // bind(): not ours to close
  bool is_socket = true;   // bind() of a pipe or tty: write(), not send()
  bool reading = true;     // false while paused or not started yet
  bool want_write = false; // EPOLLOUT wanted (queued bytes, or a connect in progress)
  bool closing = false;    // close(): flush, then close
  bool shut_write = false; // close_write(): flush, then shutdown(SHUT_WR)
  bool nodelay = false;
  wlist high, low;
  size_t pending = 0;  // bytes in high + low
  size_t warn_at = kWarnBytes;
  size_t warn_base = kWarnBytes;  // set_warning(): the first warning
  size_t warn_low = 0;            // set_warning(): "drained" at or below this
  udp_address peer;  // udp_connect()'s default destination
  std::string address;
  uint64_t write_bytes = 0, write_time = 0;
  std::atomic<uint64_t> read_bytes{0}, read_time{0};

  // Socket thread only.
  int read_size = kMinRead;
  uint32_t registered = 0;  // the epoll interest in force (0: not in epoll)
  bool throttled = false;   // a listener resting after accept() ran out of descriptors
  bool started = false;     // bind(): start() seen
  std::unique_ptr<connect_plan> plan;

  void reset(int new_id) {  // under mu, when the slot is reserved
    id.store(new_id, std::memory_order_relaxed);
    fd = -1;
    family = AF_UNSPEC;
    owner = 0;
    udp = adopted = false;
    is_socket = true;
    reading = true;
    want_write = closing = shut_write = nodelay = false;
    pending = 0;
    warn_at = warn_base = kWarnBytes;
    warn_low = 0;
    peer = udp_address{};
    address.clear();
    write_bytes = write_time = 0;
    read_bytes.store(0, std::memory_order_relaxed);
    read_time.store(0, std::memory_order_relaxed);
  }
  [[nodiscard]] bool queued() const { return !high.empty() || !low.empty(); }
};

struct command {
  enum kind_t : uint8_t { start, pause, close, shutdown, close_write, nodelay, kick, connect, add, exit };
  kind_t kind = exit;
  int id = -1;
  uint32_t owner = 0;
  int port = 0;
  std::vector<std::string> hosts;  // connect: numeric addresses to try
  std::string display;             // connect: "host:port"
  std::string error;               // connect: resolution failed
};

// The way into the socket thread. Shared with the resolver thread, which may
// outlive the server while stuck in getaddrinfo.
struct channel {
  int efd;
  std::mutex mu;
  std::vector<command> queue;
  bool closed = false;

  channel() : efd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (efd < 0) throw std::system_error(errno, std::system_category(), "eventfd");
  }
  ~channel() { ::close(efd); }

  bool post(command c) {
    bool wake;
    {
      std::lock_guard lk(mu);
      if (closed) return false;
      queue.push_back(std::move(c));
      wake = queue.size() == 1;  // otherwise a wakeup is already on its way
    }
    if (wake) {
      uint64_t one = 1;
      ssize_t ignored = ::write(efd, &one, sizeof one);
      (void)ignored;
    }
    return true;
  }
  // Reset the counter before taking the queue, so a post racing with us
  // leaves the eventfd readable.
  std::vector<command> take() {
    uint64_t v;
    ssize_t ignored = ::read(efd, &v, sizeof v);
    (void)ignored;
    std::vector<command> out;
    std::lock_guard lk(mu);
    out.swap(queue);
    return out;
  }
  void shut() {
    std::lock_guard lk(mu);
    closed = true;
    queue.clear();
  }
};

struct resolver_state {
  struct job {
    int id;
    std::string host;
    int port;
  };
  std::mutex mu;
  std::condition_variable cv;
  std::deque<job> jobs;
  bool quit = false;
  bool busy = false;
  std::thread thread;
  socket_server::resolver fn;
  std::shared_ptr<channel> out;

  static void run(const std::shared_ptr<resolver_state>& self) {
    std::unique_lock lk(self->mu);
    for (;;) {
      self->cv.wait(lk, [&] { return self->quit || !self->jobs.empty(); });
      if (self->quit) return;
      job j = std::move(self->jobs.front());
      self->jobs.pop_front();
      self->busy = true;
      auto fn = self->fn;
      lk.unlock();
      std::vector<std::string> hosts;
      std::string err;
      bool ok = fn ? fn(j.host, &hosts, &err) : default_resolve(j.host, &hosts, &err);
      command c;
      c.kind = command::connect;
      c.id = j.id;
      c.port = j.port;
      c.display = host_port(j.host, j.port);
      if (ok && !hosts.empty())
        c.hosts = std::move(hosts);
      else
        c.error = fmt::format("connect {} failed: {}", c.display, err.empty() ? "no address" : err);
      self->out->post(std::move(c));
      lk.lock();
      self->busy = false;
    }
  }
};

struct pending_event {
  uint32_t owner;
  socket_event ev;
};

}  // namespace

struct socket_server::impl {
  sink on_event;
  std::shared_ptr<channel> chan = std::make_shared<channel>();
  int epfd = -1;
  int spare_fd = -1;  // given up when accept() hits EMFILE, to drop the connection
  std::thread thread;
  std::atomic<bool> started{false};
  std::atomic<bool> stopped{false};
  std::array<std::atomic<slot*>, kPages> pages{};
  std::atomic<uint32_t> next_id{1};
  mutable std::mutex log_mu;
  logger log_fn;
  std::shared_ptr<resolver_state> res = std::make_shared<resolver_state>();

  // Socket thread only.
  std::vector<pending_event> out;
  std::vector<std::pair<int, uint64_t>> throttled;  // listener id, resume time (ms)
  std::vector<char> udp_buf = std::vector<char>(kUdpMax);
  bool polled_exit = false;  // poll_once() saw the exit command

  explicit impl(sink s) : on_event(std::move(s)) {
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) throw std::system_error(errno, std::system_category(), "epoll_create1");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kCommandTag;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, chan->efd, &ev) != 0) {
      int e = errno;
      ::close(epfd);
      throw std::system_error(e, std::system_category(), "epoll_ctl");
    }
    spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    res->out = chan;
  }

  ~impl() {
    for (auto& p : pages) delete[] p.load(std::memory_order_relaxed);
  }

  void log(std::string_view msg) const {
    std::unique_lock lk(log_mu);
    logger fn = log_fn;
    lk.unlock();
    if (fn)
      fn(msg);
    else
      fmt::print(stderr, "socket_server: {}\n", msg);
  }

  // --- slots ---------------------------------------------------------------

  slot* find(int id) const {
    if (id < 0) return nullptr;
    int index = id & (kSlots - 1);
    slot* page = pages[index / kPageSize].load(std::memory_order_acquire);
    return page ? &page[index % kPageSize] : nullptr;
  }

  slot& ensure(int index) {
    auto& p = pages[index / kPageSize];
    slot* page = p.load(std::memory_order_acquire);
    if (!page) {
      auto* fresh = new slot[kPageSize];
      if (p.compare_exchange_strong(page, fresh, std::memory_order_acq_rel))
        page = fresh;
      else
        delete[] fresh;  // another thread won; `page` now holds its page
    }
    return page[index % kPageSize];
  }

  // Takes a free slot; the id's high bits grow with every reuse of the slot,
  // so an old id never matches the new socket. init runs under the slot lock
  // and sets the real state.
  template <class Init>
  int reserve(Init&& init) {
    for (int i = 0; i < kSlots; ++i) {
      int id = int(next_id.fetch_add(1, std::memory_order_relaxed) & 0x7fffffffu);
      if (id == 0) continue;  // ids stay positive, also after the counter wraps
      slot& s = ensure(id & (kSlots - 1));
      state expect = state::invalid;
      if (!s.st.compare_exchange_strong(expect, state::reserve, std::memory_order_acq_rel)) continue;
      std::lock_guard lk(s.mu);
      s.reset(id);
      init(s);
      return id;
    }
    return -1;
  }

  // The slot of a live socket with exactly this id, or nullptr.
  slot* live(int id) const {
    slot* s = find(id);
    if (!s || s->id.load(std::memory_order_acquire) != id) return nullptr;
    state st = s->st.load(std::memory_order_acquire);
    return st == state::invalid || st == state::reserve ? nullptr : s;
  }

  // Frees the slot: no event. Lock held (socket thread, or stop() after join).
  void close_locked(slot& s) {
    if (s.registered) {
      epoll_ctl(epfd, EPOLL_CTL_DEL, s.fd, nullptr);
      s.registered = 0;
    }
    if (s.fd >= 0 && !s.adopted) ::close(s.fd);
    s.fd = -1;
    s.high.clear();
    s.low.clear();
    s.pending = 0;
    s.plan.reset();
    s.read_size = kMinRead;
    s.throttled = false;
    s.started = false;
    s.id.store(-1, std::memory_order_relaxed);
    s.st.store(state::invalid, std::memory_order_release);
  }

  // --- events --------------------------------------------------------------

  void emit(uint32_t owner, socket_event_type type, int id, int ud = 0, std::string text = {},
            char* buffer = nullptr) {
    pending_event p{owner, {}};
    p.ev.type = type;
    p.ev.id = id;
    p.ev.ud = ud;
    p.ev.buffer = buffer;
    p.ev.text = std::move(text);
    out.push_back(std::move(p));
  }

  // Delivers what the last handler produced. No slot lock is held here.
  void flush() {
    for (auto& p : out) {
      if (on_event)
        on_event(p.owner, p.ev);
      else
        mem_free(p.ev.buffer);
    }
    out.clear();
  }

  // --- epoll interest (socket thread) --------------------------------------

  void update_interest(slot& s) {
    state st = s.st.load(std::memory_order_relaxed);
    bool readable = st == state::connected || st == state::bind || st == state::halfclose_write ||
                    (st == state::listen && !s.throttled);
    uint32_t want = (readable && s.reading ? EPOLLIN : 0u) | (s.want_write ? EPOLLOUT : 0u);
    if (want == s.registered) return;
    // Not in epoll at all while nothing is wanted: epoll reports EPOLLHUP and
    // EPOLLERR even with an empty mask, which would spin on a paused socket.
    epoll_event ev{};
    ev.events = want;
    ev.data.u64 = uint32_t(s.id.load(std::memory_order_relaxed));
    int op = s.registered == 0 ? EPOLL_CTL_ADD : want == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
    if (epoll_ctl(epfd, op, s.fd, &ev) != 0) {
      log(fmt::format("epoll_ctl on socket {} (fd {}): {}", s.id.load(), s.fd, errno_text(errno)));
      if (op != EPOLL_CTL_ADD) s.registered = want;
      return;
    }
    s.registered = want;
  }

  // --- writing -------------------------------------------------------------

  // One write attempt; -1 with errno on failure.
  ssize_t write_some(slot& s, const wbuf& b) {
    if (s.udp) {
      sockaddr_storage sa;
      socklen_t len;
      if (!from_compact(b.to, &sa, &len)) {
        errno = EAFNOSUPPORT;
        return -1;
      }
      return ::sendto(s.fd, b.ptr, b.left, MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&sa), len);
    }
    // MSG_NOSIGNAL: a dead peer is an EPIPE here, never a SIGPIPE in whatever thread wrote.
    if (s.is_socket) return ::send(s.fd, b.ptr, b.left, MSG_NOSIGNAL);
    return ::write(s.fd, b.ptr, b.left);
  }

  // Writes queued bytes until the kernel pushes back, then sets EPOLLOUT
  // interest, warnings and the close/half-close that waited for the drain.
  // Lock held. Returns false if the socket is gone.
  bool flush_queue(slot& s) {
    int err = 0;
    while (s.queued()) {
      bool from_low = s.high.empty();
      wlist& l = from_low ? s.low : s.high;
      wbuf* b = l.head;
      ssize_t n = write_some(s, *b);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        if (s.udp) {  // a datagram that cannot go is dropped; the socket lives on
          log(fmt::format("udp socket {}: sendto failed: {}", s.id.load(), errno_text(errno)));
          s.pending -= b->left;
          l.pop_front();
          mem_free(b->base);
          delete b;
          continue;
        }
        err = errno;
        break;
      }
      s.write_bytes += uint64_t(n);
      s.write_time = monotonic_cs();
      s.pending -= size_t(n);
      if (size_t(n) < b->left) {
        b->ptr += n;
        b->left -= size_t(n);
        // The rest of a low-priority buffer must go before anything else:
        // from now on it is the head of the (empty) high list.
        if (from_low) s.high.push_back(l.pop_front());
        break;
      }
      l.pop_front();
      mem_free(b->base);
      delete b;
    }
    int id = s.id.load(std::memory_order_relaxed);
    if (err) {
      if (s.st.load(std::memory_order_relaxed) == state::halfclose_read)
        emit(s.owner, socket_event_type::close, id);  // nobody reads it any more: just gone
      else
        emit(s.owner, socket_event_type::error, id, 0, fmt::format("write failed: {}", errno_text(err)));
      close_locked(s);
      return false;
    }
    if (s.queued()) {
      s.want_write = true;
      update_interest(s);
      if (s.pending >= s.warn_at) {
        emit(s.owner, socket_event_type::warning, id, int(s.pending / 1024));
        while (s.warn_at <= s.pending) s.warn_at *= 2;
      } else if (s.warn_at > s.warn_base && s.pending <= s.warn_low) {
        s.warn_at = s.warn_base;
        emit(s.owner, socket_event_type::warning, id, 0);
      }
      return true;
    }
    s.want_write = false;
    if (s.warn_at > s.warn_base) {
      s.warn_at = s.warn_base;
      emit(s.owner, socket_event_type::warning, id, 0);
    }
    if (s.closing) {  // close() asked for it once the queue drained
      emit(s.owner, socket_event_type::close, id);
      close_locked(s);
      return false;
    }
    if (s.shut_write) {
      s.shut_write = false;
      ::shutdown(s.fd, SHUT_WR);
      s.st.store(state::halfclose_write, std::memory_order_release);
    }
    update_interest(s);
    return true;
  }

  // --- reading -------------------------------------------------------------

  void on_readable(slot& s) {
    int id = s.id.load(std::memory_order_relaxed);
    int size = s.read_size;
    char* buf = static_cast<char*>(mem_alloc(size_t(size)));
    ssize_t n = ::read(s.fd, buf, size_t(size));
    if (n > 0) {
      s.read_bytes.fetch_add(uint64_t(n), std::memory_order_relaxed);
      s.read_time.store(monotonic_cs(), std::memory_order_relaxed);
      // Adapt the next read to the traffic: grow on a full read, shrink on a
      // read that used less than half.
      if (n == size && size < kMaxRead)
        s.read_size = size * 2;
      else if (size > kMinRead && n * 2 < size)
        s.read_size = size / 2;
      emit(s.owner, socket_event_type::data, id, int(n), {}, buf);
      return;
    }
    mem_free(buf);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      int err = errno;
      std::lock_guard lk(s.mu);
      emit(s.owner, socket_event_type::error, id, 0, fmt::format("read failed: {}", errno_text(err)));
      close_locked(s);
      return;
    }
    // The peer closed its side. As in skynet, the owner hears CLOSE now but the
    // socket stays half-open: it may still write (a reply to a client that
    // shut down its write side), and it is released when the owner calls
    // close() or shutdown(). If our write side is already shut, both are done.
    std::lock_guard lk(s.mu);
    emit(s.owner, socket_event_type::close, id);
    if (s.st.load(std::memory_order_relaxed) == state::halfclose_write) {
      close_locked(s);
      return;
    }
    s.st.store(state::halfclose_read, std::memory_order_release);
    s.reading = false;
    update_interest(s);
  }

  void on_udp_readable(slot& s) {
    sockaddr_storage from;
    socklen_t len = sizeof from;
    ssize_t n = ::recvfrom(s.fd, udp_buf.data(), udp_buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n < 0) {
      // Errors here are per datagram (ICMP reports...): the socket lives on.
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        log(fmt::format("udp socket {}: recvfrom failed: {}", s.id.load(), errno_text(errno)));
      return;
    }
    s.read_bytes.fetch_add(uint64_t(n), std::memory_order_relaxed);
    s.read_time.store(monotonic_cs(), std::memory_order_relaxed);
    char* buf = static_cast<char*>(mem_alloc(size_t(n)));
    std::memcpy(buf, udp_buf.data(), size_t(n));
    emit(s.owner, socket_event_type::udp, s.id.load(std::memory_order_relaxed), int(n), {}, buf);
    to_compact(reinterpret_cast<sockaddr*>(&from), &out.back().ev.from);
  }

  // --- accepting -----------------------------------------------------------

  void throttle(slot& s) {
    s.throttled = true;
    update_interest(s);
    throttled.emplace_back(s.id.load(std::memory_order_relaxed), now_ms() + kAcceptBackoffMs);
  }

  int next_timeout() const {
    if (throttled.empty()) return -1;
    uint64_t now = now_ms(), first = UINT64_MAX;
    for (auto& t : throttled) first = std::min(first, t.second);
    return first <= now ? 0 : int(first - now);
  }

  void resume_throttled() {
    if (throttled.empty()) return;
    uint64_t now = now_ms();
    for (size_t i = 0; i < throttled.size();) {
      if (throttled[i].second > now) {
        ++i;
        continue;
      }
      slot* s = live(throttled[i].first);
      throttled[i] = throttled.back();
      throttled.pop_back();
      if (s && s->throttled) {
        s->throttled = false;
        update_interest(*s);
      }
    }
  }

  void on_acceptable(slot& ls) {
    sockaddr_storage sa;
    socklen_t len = sizeof sa;
    int fd = accept4(ls.fd, reinterpret_cast<sockaddr*>(&sa), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    int lid = ls.id.load(std::memory_order_relaxed);
    if (fd < 0) {
      int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR || err == ECONNABORTED || err == EPROTO) return;
      if ((err == EMFILE || err == ENFILE) && spare_fd >= 0) {
        // Out of descriptors: the pending connection would make epoll report
        // the listener again and again. Use the spare to take it off the
        // backlog and drop it.
        ::close(spare_fd);
        int c = accept4(ls.fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0) ::close(c);
        spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        log(fmt::format("listen socket {}: accept: {}; dropped a connection", lid, errno_text(err)));
        if (spare_fd < 0) throttle(ls);
        return;
      }
      // Anything else (no spare, ENOBUFS...): rest the listener a while rather than spin.
      log(fmt::format("listen socket {}: accept: {}; pausing {} ms", lid, errno_text(err), kAcceptBackoffMs));
      throttle(ls);
      return;
    }
    set_keepalive(fd);
    std::string peer = sockaddr_text(reinterpret_cast<sockaddr*>(&sa));
    uint32_t owner = ls.owner;
    int id = reserve([&](slot& s) {
      s.fd = fd;
      s.family = sa.ss_family;
      s.owner = owner;
      s.reading = false;  // until start()
      s.address = peer;
      s.st.store(state::paccept, std::memory_order_release);
    });
    if (id < 0) {
      ::close(fd);
      log(fmt::format("listen socket {}: no free socket slot; dropped a connection from {}", lid, peer));
      return;
    }
    emit(owner, socket_event_type::accept, lid, id, std::move(peer));
  }

  // --- connecting ----------------------------------------------------------

  // Lock held, connect finished.
  void connected(slot& s) {
    int id = s.id.load(std::memory_order_relaxed);
    sockaddr_storage sa;
    socklen_t len = sizeof sa;
    std::string addr = getpeername(s.fd, reinterpret_cast<sockaddr*>(&sa), &len) == 0
                           ? sockaddr_text(reinterpret_cast<sockaddr*>(&sa))
                           : (s.plan ? s.plan->display : s.address);
    s.plan.reset();
    s.address = addr;
    s.reading = true;
    s.want_write = false;
    s.st.store(state::connected, std::memory_order_release);
    emit(s.owner, socket_event_type::connect, id, 0, std::move(addr));
    if (s.queued())
      flush_queue(s);  // bytes sent while connecting
    else
      update_interest(s);
  }

  // Tries the plan's addresses in turn until one connects or is in progress.
  void try_connect(slot& s) {
    connect_plan& p = *s.plan;
    while (p.next < p.hosts.size()) {
      sockaddr_storage sa;
      socklen_t len;
      if (!parse_numeric(p.hosts[p.next++], p.port, &sa, &len)) {
        p.last_error = EINVAL;
        continue;
      }
      int fd = ::socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        p.last_error = errno;
        continue;
      }
      set_keepalive(fd);
      int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), len);
      if (rc == 0 || errno == EINPROGRESS || errno == EINTR) {
        std::lock_guard lk(s.mu);
        s.fd = fd;
        s.family = sa.ss_family;
        if (s.nodelay) {
          int one = 1;
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        if (rc == 0) {
          connected(s);
        } else {
          s.want_write = true;  // EPOLLOUT says the connect finished
          update_interest(s);
        }
        return;
      }
      p.last_error = errno;
      ::close(fd);
    }
    std::lock_guard lk(s.mu);
    emit(s.owner, socket_event_type::error, s.id.load(std::memory_order_relaxed), 0,
         fmt::format("connect {} failed: {}", p.display, errno_text(p.last_error)));
    close_locked(s);
  }

  void on_connect_ready(slot& s) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    {
      std::lock_guard lk(s.mu);
      if (err == 0) {
        connected(s);
        return;
      }
      s.plan->last_error = err;
      s.want_write = false;
      if (s.registered) epoll_ctl(epfd, EPOLL_CTL_DEL, s.fd, nullptr);
      s.registered = 0;
      ::close(s.fd);
      s.fd = -1;
    }
    try_connect(s);  // the next address, if any
  }

  // --- dispatch (socket thread) --------------------------------------------

  void on_socket_event(int id, uint32_t events) {
    slot* s = live(id);
    if (!s) return;  // closed earlier in this batch
    switch (s->st.load(std::memory_order_acquire)) {
      case state::listen:
        if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_acceptable(*s);
        return;
      case state::connecting:
        if (s->fd >= 0) on_connect_ready(*s);
        return;
      case state::connected:
      case state::bind:
      case state::halfclose_read:
      case state::halfclose_write:
        break;
      default:
        return;
    }
    if (s->udp) {
      if (events & EPOLLERR) {  // clear it; UDP errors do not close the socket
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
      }
      if (events & EPOLLIN) on_udp_readable(*s);
      if ((events & EPOLLOUT) && s->id.load(std::memory_order_relaxed) == id) {
        std::lock_guard lk(s->mu);
        flush_queue(*s);
      }
      return;
    }
    if (events & EPOLLERR) {
      int err = 0;
      socklen_t len = sizeof err;
      if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      std::lock_guard lk(s->mu);
      emit(s->owner, socket_event_type::error, id, 0, err ? errno_text(err) : std::string("socket error"));
      close_locked(*s);
      return;
    }
    bool handled = false;
    if ((events & (EPOLLIN | EPOLLHUP)) && (s->registered & EPOLLIN)) {
      on_readable(*s);
      handled = true;
      if (s->id.load(std::memory_order_relaxed) != id) return;
    }
    if ((events & EPOLLOUT) && (s->registered & EPOLLOUT)) {
      std::lock_guard lk(s->mu);
      if (!flush_queue(*s)) return;
      handled = true;
    }
    if ((events & EPOLLHUP) && !handled) {  // both ways shut and nothing to do: gone
      std::lock_guard lk(s->mu);
      emit(s->owner, socket_event_type::close, id);
      close_locked(*s);
    }
  }

  void on_command(command& c) {
    if (c.kind == command::exit) return;
    slot* s = live(c.id);
    if (!s) return;  // stale id: the socket is gone, maybe the slot reused
    std::unique_lock lk(s->mu);
    if (s->id.load(std::memory_order_relaxed) != c.id) return;
    state st = s->st.load(std::memory_order_relaxed);
    switch (c.kind) {
      case command::start:
        if (st == state::plisten) {
          s->owner = c.owner;
          s->reading = true;
          s->st.store(state::listen, std::memory_order_release);
          update_interest(*s);
          emit(c.owner, socket_event_type::connect, c.id, 0, "start");
        } else if (st == state::listen) {
          s->owner = c.owner;
          s->reading = true;
          update_interest(*s);
        } else if (st == state::paccept) {
          s->owner = c.owner;
          s->reading = true;
          s->st.store(state::connected, std::memory_order_release);
          update_interest(*s);
          emit(c.owner, socket_event_type::connect, c.id, 0, "start");
        } else if (st == state::bind) {
          s->owner = c.owner;
          s->reading = true;
          update_interest(*s);
          if (!s->started) {
            s->started = true;
            emit(c.owner, socket_event_type::connect, c.id, 0, "start");
          }
        } else if (st == state::connected || st == state::halfclose_write) {
          // skynet reports "transfer" on every start of a connected socket (also
          // a resume by the same owner); socket.lua waits for it after abandon.
          emit(c.owner, socket_event_type::connect, c.id, 0, "transfer");
          s->owner = c.owner;
          s->reading = true;
          update_interest(*s);
        } else if (st == state::connecting) {
          s->owner = c.owner;
        }
        break;
      case command::pause:
        s->reading = false;
        update_interest(*s);
        break;
      case command::close:
        if (s->queued() && (st == state::connected || st == state::bind || st == state::halfclose_read)) {
          // Stop reading, flush, then close (flush_queue reports close when empty).
          s->owner = c.owner;
          s->closing = true;
          s->reading = false;
          s->st.store(state::halfclose_read, std::memory_order_release);
          flush_queue(*s);
        } else {
          emit(c.owner, socket_event_type::close, c.id);
          close_locked(*s);
        }
        break;
      case command::shutdown:
        emit(c.owner, socket_event_type::close, c.id);
        close_locked(*s);
        break;
      case command::close_write:
        if (st == state::connected || st == state::bind) {
          if (s->queued()) {
            s->shut_write = true;
          } else {
            ::shutdown(s->fd, SHUT_WR);
            s->st.store(state::halfclose_write, std::memory_order_release);
            update_interest(*s);
          }
        }
        break;
      case command::nodelay:
        s->nodelay = true;
        if (s->fd >= 0 && !s->udp && s->is_socket) {
          int one = 1;
          setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        break;
      case command::kick:  // send() queued bytes, or crossed a warning threshold
        if (st == state::connected || st == state::bind || st == state::halfclose_read) flush_queue(*s);
        break;
      case command::add:
        update_interest(*s);
        break;
      case command::connect:
        if (st != state::connecting || s->fd >= 0 || s->plan) break;
        if (!c.error.empty()) {
          emit(s->owner, socket_event_type::error, c.id, 0, std::move(c.error));
          close_locked(*s);
          break;
        }
        s->plan = std::make_unique<connect_plan>();
        s->plan->hosts = std::move(c.hosts);
        s->plan->port = c.port;
        s->plan->display = std::move(c.display);
        lk.unlock();
        try_connect(*s);
        break;
      case command::exit:
        break;
    }
  }

  // Handles what one epoll_wait returned. False once the exit command is seen.
  bool handle(const epoll_event* events, int n) {
    for (int i = 0; i < n; ++i) {
      if (events[i].data.u64 == kCommandTag) {
        for (auto& c : chan->take()) {
          if (c.kind == command::exit) return false;  // stop() cleans up after the join
          on_command(c);
          flush();
        }
        continue;
      }
      on_socket_event(int(events[i].data.u64), events[i].events);
      flush();
    }
    resume_throttled();
    return true;
  }

  void run() {
    // write() to an adopted pipe whose reader is gone must not kill the
    // process (sockets use MSG_NOSIGNAL instead).
    sigset_t pipe_only;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, nullptr);
    epoll_event events[kMaxEvents];
    for (;;) {
      int n = epoll_wait(epfd, events, kMaxEvents, next_timeout());
      if (n < 0) {
        if (errno == EINTR) continue;
        log(fmt::format("epoll_wait: {}", errno_text(errno)));
        std::this_thread::sleep_for(std::chrono::milliseconds(10));  // do not spin on a broken epoll
        continue;
      }
      if (!handle(events, n)) return;
    }
  }

  int poll_once(int timeout_ms) {
    if (stopped.load() || polled_exit) return -1;
    int t = next_timeout();
    if (t >= 0 && (timeout_ms < 0 || t < timeout_ms)) timeout_ms = t;
    epoll_event events[kMaxEvents];
    int n = epoll_wait(epfd, events, kMaxEvents, timeout_ms);
    if (n < 0) {
      if (errno != EINTR) log(fmt::format("epoll_wait: {}", errno_text(errno)));
      return 0;
    }
    if (!handle(events, n)) {
      polled_exit = true;
      return -1;
    }
    return n;
  }

  void post(command c) { chan->post(std::move(c)); }
  void post(command::kind_t kind, int id, uint32_t owner = 0) {
    command c;
    c.kind = kind;
    c.id = id;
    c.owner = owner;
    chan->post(std::move(c));
  }

  // --- any thread ----------------------------------------------------------

  int send(int id, void* buffer, size_t size, bool low, const udp_address* to) {
    char* buf = static_cast<char*>(buffer);
    slot* s = find(id);
    if (!s) {
      mem_free(buf);
      return -1;
    }
    std::unique_lock lk(s->mu);
    state st = s->st.load(std::memory_order_relaxed);
    bool ok = s->id.load(std::memory_order_relaxed) == id &&
              (st == state::connecting || st == state::connected || st == state::bind ||
               st == state::halfclose_read) &&
              !s->closing && !s->shut_write;
    udp_address dest;
    if (ok && s->udp) {
      dest = to ? *to : s->peer;
      ok = dest.size != 0 && compact_family(dest) == s->family;
    } else if (to) {
      ok = false;  // udp_sendto on a TCP socket
    }
    if (!ok || size == 0) {
      lk.unlock();
      mem_free(buf);
      return ok ? 0 : -1;
    }
    bool was_empty = !s->queued();
    size_t sent = 0;
    if (was_empty && !s->want_write &&
        (st == state::connected || st == state::bind || st == state::halfclose_read)) {
      // Nothing queued: write here, no thread hop.
      wbuf tmp;
      tmp.ptr = buf;
      tmp.left = size;
      tmp.to = dest;
      ssize_t n;
      do n = write_some(*s, tmp);
      while (n < 0 && errno == EINTR);
      if (n > 0) {
        sent = size_t(n);
        s->write_bytes += uint64_t(n);
        s->write_time = monotonic_cs();
      } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && s->udp) {
        int err = errno;
        lk.unlock();
        mem_free(buf);
        log(fmt::format("udp socket {}: sendto failed: {}", id, errno_text(err)));
        return 0;
      }
      // A TCP error is left for the socket thread: its write meets it again and reports it.
      if (sent == size) {
        lk.unlock();
        mem_free(buf);
        return 0;
      }
      if (sent > 0) low = false;  // a partly written buffer finishes before anything else
    }
    auto* b = new wbuf;
    b->base = buf;
    b->ptr = buf + sent;
    b->left = size - sent;
    b->to = dest;
    (low ? s->low : s->high).push_back(b);
    size_t before = s->pending;
    s->pending += b->left;
    // Wake the socket thread when it must start writing, or report a warning.
    bool kick = was_empty || (before < s->warn_at && s->pending >= s->warn_at);
    lk.unlock();
    if (kick) post(command::kick, id);
    return 0;
  }

  void stop() {
    if (stopped.exchange(true)) return;
    post(command::exit, -1);
    if (thread.joinable()) thread.join();
    chan->shut();
    {
      std::unique_lock lk(res->mu);
      res->quit = true;
      bool busy = res->busy;
      lk.unlock();
      res->cv.notify_all();
      if (res->thread.joinable()) {
        // A lookup in progress may take seconds; the thread owns a reference
        // to its state and drops the result once the channel is shut.
        if (busy)
          res->thread.detach();
        else
          res->thread.join();
      }
    }
    for (auto& p : pages) {
      slot* page = p.load(std::memory_order_acquire);
      if (!page) continue;
      for (int i = 0; i < kPageSize; ++i) {
        slot& s = page[i];
        std::lock_guard lk(s.mu);
        if (s.st.load(std::memory_order_relaxed) != state::invalid) close_locked(s);
      }
    }
    if (spare_fd >= 0) ::close(spare_fd);
    spare_fd = -1;
    ::close(epfd);
    epfd = -1;
  }
};

// ---------------------------------------------------------------------------

socket_server::socket_server(sink on_event) : impl_(std::make_unique<impl>(std::move(on_event))) {}

socket_server::~socket_server() { stop(); }

void socket_server::start() {
  if (impl_->stopped.load() || impl_->started.exchange(true)) return;
  impl_->thread = std::thread([this] { impl_->run(); });
}

void socket_server::stop() { impl_->stop(); }

int socket_server::listen(uint32_t owner, std::string_view host, int port, int backlog, std::string* error,
                          int* bound_port) {
  auto fail = [&](std::string msg) {
    if (error) *error = std::move(msg);
    return -1;
  };
  std::string shown = host_port(host.empty() ? "0.0.0.0" : host, port);
  if (impl_->stopped.load()) return fail("socket server stopped");
  sockaddr_storage sa;
  socklen_t len;
  std::string err;
  if (!resolve_first(host.empty() ? "0.0.0.0" : host, port, SOCK_STREAM, &sa, &len, &err))
    return fail(fmt::format("listen {} failed: {}", shown, err));
  int fd = ::socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(fmt::format("listen {} failed: {}", shown, errno_text(errno)));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), len) != 0 || ::listen(fd, backlog) != 0) {
    int e = errno;
    ::close(fd);
    return fail(fmt::format("listen {} failed: {}", shown, errno_text(e)));
  }
  socklen_t blen = sizeof sa;
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &blen);
  int actual = ntohs(sa.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&sa)->sin_port
                                             : reinterpret_cast<sockaddr_in6*>(&sa)->sin6_port);
  std::string addr = sockaddr_text(reinterpret_cast<sockaddr*>(&sa));
  int id = impl_->reserve([&](slot& s) {
    s.fd = fd;
    s.family = sa.ss_family;
    s.owner = owner;
    s.address = addr;
    s.st.store(state::plisten, std::memory_order_release);
  });
  if (id < 0) {
    ::close(fd);
    return fail(fmt::format("listen {} failed: no free socket slot", shown));
  }
  if (bound_port) *bound_port = actual;
  return id;
}

int socket_server::connect(uint32_t owner, std::string_view host, int port) {
  if (impl_->stopped.load() || port < 0 || port > 65535 || host.empty()) return -1;
  std::string shown = host_port(host, port);
  int id = impl_->reserve([&](slot& s) {
    s.owner = owner;
    s.address = shown;
    s.st.store(state::connecting, std::memory_order_release);
  });
  if (id < 0) return -1;
  sockaddr_storage sa;
  socklen_t len;
  if (parse_numeric(host, port, &sa, &len)) {
    command c;
    c.kind = command::connect;
    c.id = id;
    c.port = port;
    c.hosts.push_back(strip_brackets(host));
    c.display = shown;
    impl_->post(std::move(c));
    return id;
  }
  // A name: resolve off the socket thread.
  auto& r = *impl_->res;
  {
    std::lock_guard lk(r.mu);
    r.jobs.push_back({id, std::string(host), port});
    if (!r.thread.joinable() && !r.quit)
      r.thread = std::thread([st = impl_->res] { resolver_state::run(st); });
  }
  r.cv.notify_one();
  return id;
}

namespace {

// For descriptors made elsewhere (bind, adopt_*).
bool set_nonblocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  return flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

bool local_address(int fd, sockaddr_storage* sa, std::string* text) {
  socklen_t len = sizeof *sa;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(sa), &len) != 0) return false;
  *text = sockaddr_text(reinterpret_cast<sockaddr*>(sa));
  return true;
}

}  // namespace

int socket_server::bind(uint32_t owner, int fd) {
  if (impl_->stopped.load() || fd < 0) return -1;
  if (!set_nonblocking(fd)) return -1;
  struct stat info {};
  bool sock = fstat(fd, &info) == 0 && S_ISSOCK(info.st_mode);
  return impl_->reserve([&](slot& s) {
    s.fd = fd;
    s.owner = owner;
    s.adopted = true;
    s.is_socket = sock;
    s.reading = false;  // until start()
    s.address = fmt::format("fd:{}", fd);
    s.st.store(state::bind, std::memory_order_release);
  });
}

void socket_server::start(uint32_t owner, int id) { impl_->post(command::start, id, owner); }
void socket_server::pause(uint32_t owner, int id) { impl_->post(command::pause, id, owner); }
void socket_server::close(uint32_t owner, int id) { impl_->post(command::close, id, owner); }
void socket_server::shutdown(uint32_t owner, int id) { impl_->post(command::shutdown, id, owner); }
void socket_server::close_write(int id) { impl_->post(command::close_write, id); }
void socket_server::nodelay(int id) { impl_->post(command::nodelay, id); }

int socket_server::send(int id, void* buffer, size_t size) { return impl_->send(id, buffer, size, false, nullptr); }

int socket_server::send_low(int id, void* buffer, size_t size) {
  return impl_->send(id, buffer, size, true, nullptr);
}

int socket_server::udp(uint32_t owner, std::string_view host, int port, std::string* error, int* bound_port) {
  auto fail = [&](std::string msg) {
    if (error) *error = std::move(msg);
    return -1;
  };
  if (impl_->stopped.load()) return fail("socket server stopped");
  bool do_bind = !host.empty() || port != 0;
  std::string shown = host_port(host.empty() ? "0.0.0.0" : host, port);
  sockaddr_storage sa{};
  socklen_t len = 0;
  std::string err;
  if (do_bind) {
    if (!resolve_first(host.empty() ? "0.0.0.0" : host, port, SOCK_DGRAM, &sa, &len, &err))
      return fail(fmt::format("udp {} failed: {}", shown, err));
  } else {
    sa.ss_family = AF_INET;
  }
  int fd = ::socket(sa.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(fmt::format("udp {} failed: {}", shown, errno_text(errno)));
  std::string addr;
  if (do_bind) {
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), len) != 0) {
      int e = errno;
      ::close(fd);
      return fail(fmt::format("udp {} failed: {}", shown, errno_text(e)));
    }
    socklen_t blen = sizeof sa;
    getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &blen);
    addr = sockaddr_text(reinterpret_cast<sockaddr*>(&sa));
    if (bound_port)
      *bound_port = ntohs(sa.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&sa)->sin_port
                                                  : reinterpret_cast<sockaddr_in6*>(&sa)->sin6_port);
  } else if (bound_port) {
    *bound_port = 0;
  }
  int family = sa.ss_family;
  int id = impl_->reserve([&](slot& s) {
    s.fd = fd;
    s.family = family;
    s.owner = owner;
    s.udp = true;
    s.address = addr;
    s.st.store(state::connected, std::memory_order_release);
  });
  if (id < 0) {
    ::close(fd);
    return fail(fmt::format("udp {} failed: no free socket slot", shown));
  }
  impl_->post(command::add, id);  // reads at once, like skynet's UDP sockets
  return id;
}

int socket_server::udp_connect(int id, std::string_view host, int port, std::string* error) {
  auto fail = [&](std::string msg) {
    if (error) *error = std::move(msg);
    return -1;
  };
  sockaddr_storage sa;
  socklen_t len;
  std::string err;
  if (!resolve_first(host, port, SOCK_DGRAM, &sa, &len, &err))
    return fail(fmt::format("udp_connect {} failed: {}", host_port(host, port), err));
  udp_address a;
  to_compact(reinterpret_cast<sockaddr*>(&sa), &a);
  slot* s = impl_->live(id);
  if (!s) return fail("udp_connect: not a live socket");
  std::lock_guard lk(s->mu);
  if (s->id.load(std::memory_order_relaxed) != id || !s->udp ||
      s->st.load(std::memory_order_relaxed) != state::connected)
    return fail("udp_connect: not a live UDP socket");
  if (s->family != sa.ss_family) return fail("udp_connect: address family differs from the socket's");
  s->peer = a;
  return 0;
}

int socket_server::udp_sendto(int id, const udp_address& to, void* buffer, size_t size) {
  return impl_->send(id, buffer, size, false, &to);
}

bool socket_server::udp_address_of(std::string_view host, int port, udp_address* out) {
  sockaddr_storage sa;
  socklen_t len;
  if (port < 0 || port > 65535 || !parse_numeric(host, port, &sa, &len)) return false;
  return to_compact(reinterpret_cast<sockaddr*>(&sa), out);
}

std::string socket_server::udp_address_to_string(const udp_address& a, int* port) {
  sockaddr_storage sa;
  socklen_t len;
  if (!from_compact(a, &sa, &len)) return {};
  char buf[INET6_ADDRSTRLEN] = {};
  if (sa.ss_family == AF_INET) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&sa);
    inet_ntop(AF_INET, &v4->sin_addr, buf, sizeof buf);
    if (port) *port = ntohs(v4->sin_port);
  } else {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&sa);
    inet_ntop(AF_INET6, &v6->sin6_addr, buf, sizeof buf);
    if (port) *port = ntohs(v6->sin6_port);
  }
  return buf;
}

std::vector<socket_info> socket_server::netstat() const {
  std::vector<socket_info> rows;
  for (auto& p : impl_->pages) {
    slot* page = p.load(std::memory_order_acquire);
    if (!page) continue;
    for (int i = 0; i < kPageSize; ++i) {
      slot& s = page[i];
      state st = s.st.load(std::memory_order_acquire);
      if (st == state::invalid || st == state::reserve) continue;
      std::lock_guard lk(s.mu);
      st = s.st.load(std::memory_order_relaxed);
      const char* type = nullptr;
      switch (st) {
        case state::listen: type = "listen"; break;
        case state::plisten: type = "plisten"; break;
        case state::connecting: type = "connecting"; break;
        case state::connected: type = s.udp ? "udp" : "tcp"; break;
        case state::halfclose_read:
        case state::halfclose_write: type = "halfclose"; break;
        case state::paccept: type = "paccept"; break;
        case state::bind: type = "bind"; break;
        default: break;
      }
      if (!type) continue;
      socket_info info;
      info.id = s.id.load(std::memory_order_relaxed);
      info.owner = s.owner;
      info.type = type;
      info.address = s.address;
      info.read_bytes = s.read_bytes.load(std::memory_order_relaxed);
      info.read_time = s.read_time.load(std::memory_order_relaxed);
      info.write_bytes = s.write_bytes;
      info.write_time = s.write_time;
      info.write_pending = s.pending;
      info.reading = s.reading;
      rows.push_back(std::move(info));
    }
  }
  return rows;
}

int socket_server::adopt_listener(uint32_t owner, int fd) {
  if (impl_->stopped.load() || fd < 0) return -1;
  if (!set_nonblocking(fd)) return -1;
  sockaddr_storage sa{};
  std::string addr;
  if (!local_address(fd, &sa, &addr)) return -1;
  return impl_->reserve([&](slot& s) {
    s.fd = fd;
    s.family = sa.ss_family;
    s.owner = owner;
    s.adopted = true;  // shared: the caller closes it
    s.address = addr;
    s.st.store(state::plisten, std::memory_order_release);
  });
}

int socket_server::adopt_connection(uint32_t owner, int fd) {
  if (impl_->stopped.load() || fd < 0) return -1;
  if (!set_nonblocking(fd)) return -1;
  sockaddr_storage sa{};
  socklen_t len = sizeof sa;
  std::string peer = getpeername(fd, reinterpret_cast<sockaddr*>(&sa), &len) == 0
                         ? sockaddr_text(reinterpret_cast<sockaddr*>(&sa))
                         : std::string("unknown");
  return impl_->reserve([&](slot& s) {
    s.fd = fd;
    s.family = sa.ss_family;
    s.owner = owner;
    s.reading = false;  // until start()
    s.address = peer;
    s.st.store(state::paccept, std::memory_order_release);
  });
}

int socket_server::adopt_udp(uint32_t owner, int fd) {
  if (impl_->stopped.load() || fd < 0) return -1;
  if (!set_nonblocking(fd)) return -1;
  sockaddr_storage sa{};
  std::string addr;
  if (!local_address(fd, &sa, &addr)) return -1;
  int id = impl_->reserve([&](slot& s) {
    s.fd = fd;
    s.family = sa.ss_family;
    s.owner = owner;
    s.udp = true;
    s.adopted = true;  // shared: the caller closes it
    s.address = addr;
    s.st.store(state::connected, std::memory_order_release);
  });
  if (id >= 0) impl_->post(command::add, id);
  return id;
}

void socket_server::set_warning(int id, size_t high, size_t low) {
  slot* s = impl_->live(id);
  if (!s || high == 0) return;
  std::lock_guard lk(s->mu);
  if (s->id.load(std::memory_order_relaxed) != id) return;
  bool warned = s->warn_at > s->warn_base;
  s->warn_base = high;
  s->warn_low = std::min(low, high - 1);
  if (!warned) s->warn_at = high;
}

size_t socket_server::pending_bytes(int id) const {
  slot* s = impl_->live(id);
  if (!s) return 0;
  std::lock_guard lk(s->mu);
  return s->id.load(std::memory_order_relaxed) == id ? s->pending : 0;
}

int socket_server::poll_once(int timeout_ms) { return impl_->poll_once(timeout_ms); }

void socket_server::set_logger(logger log) {
  std::lock_guard lk(impl_->log_mu);
  impl_->log_fn = std::move(log);
}

void socket_server::set_resolver(resolver r) {
  std::lock_guard lk(impl_->res->mu);
  impl_->res->fn = std::move(r);
}

}  // namespace tern::net
