// tern::net::socket_server: the socket thread (skynet's socket_server).
//
// Threading: one socket thread owns epoll and every descriptor's read side.
// All public methods are thread-safe and cheap: they post a command to the
// socket thread, except send()/send_low(), which may write directly from the
// calling thread when the socket has nothing queued (so a small reply costs no
// thread hop). Events are delivered by calling the sink on the socket thread.
//
// Knows nothing of services: an `owner` is an opaque 32-bit value (the node
// passes a service handle) that comes back with every event for that socket.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tern::net {

// skynet's SKYNET_SOCKET_TYPE_* numbers.
enum class socket_event_type : int {
  data = 1,     // ud = byte count, buffer = the bytes
  connect = 2,  // a connect finished, or start() on an accepted/bound socket; text = address or "start"
  close = 3,    // the peer closed (the socket stays half-open: the owner may still write,
                // and must close() it, as in skynet), or close()/shutdown() finished
  accept = 4,   // on a listening socket: ud = the new socket's id, text = peer "ip:port"
  error = 5,    // text = the reason; the socket is closed
  udp = 6,      // ud = byte count, buffer = the bytes, from = sender address
  warning = 7,  // ud = KiB still queued for writing (0: the queue drained)
};

// A UDP peer in skynet's compact form: 1 byte protocol (1 = IPv4, 2 = IPv6),
// 2 bytes port (network order), then 4 or 16 bytes of address.
struct udp_address {
  uint8_t bytes[19] = {};
  uint8_t size = 0;
  [[nodiscard]] std::string_view view() const {
    return {reinterpret_cast<const char*>(bytes), size};
  }
};

struct socket_event {
  socket_event_type type{};
  int id = 0;
  int ud = 0;
  char* buffer = nullptr;  // data/udp: from tern::mem_alloc; the sink takes ownership
  std::string text;
  udp_address from;
};

// One row of netstat().
struct socket_info {
  int id = 0;
  uint32_t owner = 0;
  std::string type;  // "listen", "tcp", "udp", "bind", "connecting", "paccept", "plisten", "halfclose"
  std::string address;
  uint64_t read_bytes = 0, write_bytes = 0;
  uint64_t read_time = 0, write_time = 0;  // centiseconds of the last read/write (monotonic)
  size_t write_pending = 0;                // bytes queued and not yet written
  bool reading = true;                     // false while paused
};

class socket_server {
 public:
  using sink = std::function<void(uint32_t owner, socket_event& event)>;

  explicit socket_server(sink on_event);
  ~socket_server();  // stop()
  socket_server(const socket_server&) = delete;
  socket_server& operator=(const socket_server&) = delete;

  void start();  // spawns the socket thread
  void stop();   // closes every socket (no events), joins the thread; idempotent

  // TCP. Ids are >= 0; -1 means failure, with the reason in *error when given.
  // listen binds and listens at once (so a port conflict fails here) but does
  // not accept until start(). port 0 picks a free port; *bound_port gets it.
  int listen(uint32_t owner, std::string_view host, int port, int backlog = 128,
             std::string* error = nullptr, int* bound_port = nullptr);
  // Never blocks: a host name is resolved off the socket thread. The result is
  // a connect or an error event.
  int connect(uint32_t owner, std::string_view host, int port);
  int bind(uint32_t owner, int fd);  // adopt a descriptor (e.g. stdin)
  // Accepting (listen), reading (accepted/bound/paused): begins and makes
  // `owner` the owner. On an accepted socket it reports connect "start".
  void start(uint32_t owner, int id);
  void pause(uint32_t owner, int id);  // stop reading until start()
  void close(uint32_t owner, int id);  // flush what is queued, then close
  void shutdown(uint32_t owner, int id);  // close now; queued bytes are dropped
  void close_write(int id);            // after the queue drains, shutdown(SHUT_WR); reading goes on
  void nodelay(int id);

  // Takes ownership of buffer (tern::mem_alloc). Returns 0, or -1 if the id is
  // not a live socket (the buffer is freed). High priority by default; low
  // priority bytes go out only when no high priority bytes are waiting.
  int send(int id, void* buffer, size_t size);
  int send_low(int id, void* buffer, size_t size);

  // UDP. udp() with an empty host and port 0 makes an unbound socket; port 0
  // with a host binds a free port, reported in *bound_port. The socket reads at
  // once (no start() needed).
  int udp(uint32_t owner, std::string_view host, int port, std::string* error = nullptr,
          int* bound_port = nullptr);
  int udp_connect(int id, std::string_view host, int port, std::string* error = nullptr);
  int udp_sendto(int id, const udp_address& to, void* buffer, size_t size);
  static bool udp_address_of(std::string_view host, int port, udp_address* out);
  static std::string udp_address_to_string(const udp_address& a, int* port);

  [[nodiscard]] std::vector<socket_info> netstat() const;

  // Descriptors made elsewhere (tern::server's master binds and listens before
  // it forks, and accepts on its main thread). adopt_listener: a listening
  // socket, like listen()'s result (accepts after start()); it is shared (other
  // servers or processes may accept on it too), so the caller closes it.
  // adopt_connection: an accepted TCP socket, like an accept event's new one
  // (reads after start(), reported as connect "start"); the server owns it.
  // Both make the descriptor non-blocking. -1 on failure.
  int adopt_listener(uint32_t owner, int fd);
  int adopt_connection(uint32_t owner, int fd);
  // adopt_udp: a bound UDP socket made elsewhere, like udp()'s result (reads at
  // once: udp events; udp_sendto works). Shared like adopt_listener (several
  // processes may read it): the caller closes it. -1 on failure.
  int adopt_udp(uint32_t owner, int fd);

  // Write-queue warnings of one socket: the first when `high` bytes are queued
  // (then at each doubling, as by default), and the "drained" warning (ud 0)
  // once the queue falls to `low` bytes or below. Default: 1 MiB and 0.
  void set_warning(int id, size_t high, size_t low);
  // Bytes queued for writing on a live socket (0 otherwise). Any thread.
  [[nodiscard]] size_t pending_bytes(int id) const;

  // Instead of start(): the caller's thread runs the loop, one epoll_wait (up
  // to timeout_ms; -1: no limit) and the handling of what it returned at a
  // time, and the sink is called inline. Returns how many descriptors were
  // ready (0 on timeout), or -1 once stop() was called. Use start() or
  // poll_once(), not both, and poll_once() from one thread only.
  int poll_once(int timeout_ms);

  // Problems with no socket to report them to (a connection dropped because
  // the process ran out of descriptors, a UDP datagram that could not be sent).
  // Default: a line on stderr. Called on any thread, sometimes under a socket's
  // lock, so it must not call back into the server. Set it before start().
  using logger = std::function<void(std::string_view)>;
  void set_logger(logger log);

  // How connect() turns a host name into numeric addresses (tried in order).
  // Runs on the resolver thread; returns false with *error on failure. The
  // default uses getaddrinfo. Meant for tests (a slow or failing resolver).
  using resolver = std::function<bool(const std::string& host, std::vector<std::string>* addresses,
                                      std::string* error)>;
  void set_resolver(resolver r);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace tern::net
