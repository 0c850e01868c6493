// tern::server: UDP ports, TLS ports, sendfile(), daemonize and user/group.
// docs/server.md ("UDP, listeners, TLS, sendfile, daemon mode") is the overview.
//
// UDP. The master binds every port before anything is forked, UDP ones too.
//   PROCESS: one reactor thread of the master reads each UDP socket
//   (socket_server::adopt_udp) and sends each datagram to a worker as an
//   ev_packet frame, chosen by dispatch_mode with the sender's address as the
//   key (as swoole, which uses the address where a TCP packet has its fd).
//   The manager and the workers keep the UDP sockets (not the TCP ones), so a
//   worker's sendto() writes straight to the port. BASE: every worker reads
//   the shared socket in its own loop; the kernel hands each datagram to one.
// TLS. A TCP port whose settings (the server's, or the port's overrides) name
//   ssl_cert_file and ssl_key_file. Whoever reads the connection (a master
//   reactor thread in PROCESS mode, the worker in BASE mode) runs the OpenSSL
//   session over memory BIOs (tls.hpp): ciphertext in from socket_server's
//   data events, plaintext on to the framing and the workers; send()'s
//   plaintext is encrypted by whichever thread sends it, under the session's
//   lock. on_connect comes once the handshake is done; a failed handshake
//   closes that connection (with a warning) and calls no callback.
#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <system_error>
#include <vector>

#include "server/server_impl.hpp"
#include "tern/core/types.hpp"

namespace tern::server {

namespace {

std::string errno_text(int err) { return std::system_category().message(err); }

std::string host_port(const std::string& host, int port) {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

// An ev_packet's payload: this, the sender's ip, then the datagram.
struct wire_packet {
  int32_t index;        // the listener
  int32_t remote_port;
  int32_t ip_len;
  int32_t reserved;
};

constexpr size_t kMaxDatagram = 65507;  // UDP over IPv4
constexpr size_t kFileChunk = 256 * 1024;

// The dispatch key of a sender: IPv4 as an integer (swoole's ip2long), else a hash.
uint32_t address_key(const std::string& ip) {
  in_addr v4{};
  if (inet_pton(AF_INET, ip.c_str(), &v4) == 1) return ntohl(v4.s_addr);
  uint32_t h = 2166136261u;  // FNV-1a
  for (unsigned char ch : ip) h = (h ^ ch) * 16777619u;
  return h;
}

int socket_family(int fd) {
  sockaddr_storage sa{};
  socklen_t len = sizeof sa;
  return getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) == 0 ? sa.ss_family : AF_UNSPEC;
}

}  // namespace

bool server::impl::is_udp(size_t index) const {
  if (index >= listeners.size()) return false;
  auto t = listeners[index].type;
  return t == sock_type::udp || t == sock_type::udp6;
}

// --- start() ---------------------------------------------------------------------

bool server::impl::prepare_io() {
  port_tls.assign(listeners.size(), nullptr);
  bool any_udp = false;
  for (size_t i = 0; i < listeners.size(); ++i) {
    if (is_udp(i)) {  // no DTLS: the ssl_* settings do not apply to a UDP port
      any_udp = true;
      continue;
    }
    const auto& s = port_cfg[i];
    if (s.ssl_cert_file.empty()) continue;
    // Ports with the same files share one context.
    for (size_t j = 0; j < i && !port_tls[i]; ++j)
      if (port_tls[j] && port_cfg[j].ssl_cert_file == s.ssl_cert_file && port_cfg[j].ssl_key_file == s.ssl_key_file)
        port_tls[i] = port_tls[j];
    if (port_tls[i]) continue;
    std::string err;
    port_tls[i] = tls::context::load(s.ssl_cert_file, s.ssl_key_file, &err);
    if (!port_tls[i]) {
      port_tls.clear();
      return fail(fmt::format("port {}: {}", host_port(listeners[i].host, listeners[i].port), err));
    }
  }
  if (any_udp && !self->on_packet) return fail("a UDP port needs on_packet");  // swoole: "require onPacket callback"
  return true;
}

// fork, setsid, fork again (the daemon is no session leader: it can never get
// a terminal), chdir /, umask 022, stdin from /dev/null, stdout and stderr to
// the log file (or /dev/null). The launching process exits 0 here, as
// swoole's (daemon(3)) does; start() goes on in the daemon.
bool server::impl::daemonize_now() {
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    for (int fd : listen_fds) ::close(fd);
    listen_fds.clear();
    return fail(fmt::format("daemonize: fork: {}", errno_text(e)));
  }
  if (pid > 0) _exit(0);
  setsid();
  pid = fork();
  if (pid < 0) {
    log(log_level::error, fmt::format("daemonize: fork: {}", errno_text(errno)));
    _exit(1);
  }
  if (pid > 0) _exit(0);
  if (chdir("/") != 0) log(log_level::warning, fmt::format("daemonize: chdir /: {}", errno_text(errno)));
  umask(022);
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd >= 0) {
    dup2(null_fd, STDIN_FILENO);
    int out = own_log_fd ? log_fd : null_fd;
    dup2(out, STDOUT_FILENO);
    dup2(out, STDERR_FILENO);
    ::close(null_fd);
  }
  log(log_level::info, fmt::format("daemonized: pid {}", int(getpid())));
  return true;
}

// In a worker, when the server runs as root: group, then user (initgroups
// gives the user's supplementary groups). A worker that cannot drop them
// does not serve.
void server::impl::drop_privileges() {
  if (cfg.user.empty() && cfg.group.empty()) return;
  if (geteuid() != 0) {
    log(log_level::debug, "user/group: not running as root; ignored");
    return;
  }
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* user = nullptr;
  group gr{};
  group* grp = nullptr;
  if (!cfg.user.empty() && (getpwnam_r(cfg.user.c_str(), &pw, buf.data(), buf.size(), &user) != 0 || !user)) {
    log(log_level::error, fmt::format("user '{}': no such user; leaving", cfg.user));
    _exit(1);
  }
  std::vector<char> gbuf(16384);
  if (!cfg.group.empty() &&
      (getgrnam_r(cfg.group.c_str(), &gr, gbuf.data(), gbuf.size(), &grp) != 0 || !grp)) {
    log(log_level::error, fmt::format("group '{}': no such group; leaving", cfg.group));
    _exit(1);
  }
  gid_t gid = grp ? grp->gr_gid : user->pw_gid;
  bool ok = user ? initgroups(user->pw_name, gid) == 0 : setgroups(1, &gid) == 0;
  ok = ok && setgid(gid) == 0;
  if (ok && user) ok = setuid(user->pw_uid) == 0;
  if (!ok) {
    log(log_level::error, fmt::format("cannot run as user '{}' group '{}': {}; leaving", cfg.user, cfg.group,
                                      errno_text(errno)));
    _exit(1);
  }
  // A change of credentials clears the parent-death signal: set it again.
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != my_manager_pid) raise(SIGTERM);
}

// --- UDP ---------------------------------------------------------------------------

void server::impl::start_udp() {
  udp_sids.assign(listeners.size(), -1);
  for (size_t i = 0; i < listeners.size(); ++i) {
    if (!is_udp(i) || reactors.empty()) continue;
    auto& ss = *reactors[i % reactors.size()];
    udp_sids[i] = ss.adopt_udp(kListenOwner | uint32_t(i), listen_fds[i]);
    if (udp_sids[i] < 0)
      log(log_level::error, fmt::format("cannot read UDP port {}", host_port(listeners[i].host, listeners[i].port)));
  }
}

// A datagram on UDP port `index`: the master's reactor (PROCESS: to a worker)
// or a BASE worker (on_packet here). Takes ev.buffer.
void server::impl::udp_event(int index, net::socket_event& ev) {
  char* buf = ev.buffer;
  ev.buffer = nullptr;
  if (ev.type != net::socket_event_type::udp || size_t(index) >= listeners.size()) {
    mem_free(buf);
    return;
  }
  int port = 0;
  std::string ip = net::socket_server::udp_address_to_string(ev.from, &port);
  std::string_view data(buf, size_t(ev.ud));
  shm->total_recv_bytes += data.size();
  if (run_mode == mode::base) {
    client_info ci;
    ci.server_port = listeners[size_t(index)].port;
    ci.server_fd = listen_fds[size_t(index)];
    ci.reactor_id = my_worker_id;
    ci.remote_ip = ip;
    ci.remote_port = port;
    ci.last_time = ci.last_recv_time = now_ms() / 1000;
    server& s = *self;
    if (s.on_packet) run_callback("on_packet", [&] { s.on_packet(s, data, ci); });
    count_request();
    mem_free(buf);
    return;
  }
  // PROCESS: the sender's address is the key (fd modulo, ip hash, uid: the same worker for the same sender).
  connection key;
  key.ip_hash = address_key(ip);
  key.session = int(key.ip_hash & 0x7fffffffu);
  int w = pick_worker(key, true);
  wire_packet wp{index, port, int32_t(ip.size()), 0};
  std::string payload;
  payload.reserve(sizeof wp + ip.size() + data.size());
  payload.append(reinterpret_cast<const char*>(&wp), sizeof wp);
  payload.append(ip);
  payload.append(data);
  mem_free(buf);
  // fd -(index + 1): the pieces of a long datagram (one reactor reads a port,
  // so they are never interleaved with another datagram of the same port).
  to_worker(w, ipc::ev_packet, -(index + 1), index % int(reactors.size()), payload);
}

void server::impl::handle_packet(const ipc::header& h, std::string_view payload) {
  std::string whole;
  std::string_view data = payload;
  if (h.flags != ipc::kWhole) {
    auto it = packet_parts.find(h.fd);
    if (h.flags & ipc::kFirst) {
      if (it == packet_parts.end()) it = packet_parts.emplace(h.fd, std::string()).first;
      it->second.assign(payload);
    } else if (it == packet_parts.end()) {  // the rest of one the previous process took: drop it
      if (h.flags & ipc::kLast) shm->workers()[my_worker_id].done++;
      return;
    } else {
      it->second.append(payload);
    }
    if (!(h.flags & ipc::kLast)) return;
    whole.swap(it->second);
    packet_parts.erase(it);
    data = whole;
  }
  wire_packet wp{};
  if (data.size() < sizeof wp) {
    log(log_level::warning, "a malformed UDP packet frame from the master; dropped");
    shm->workers()[my_worker_id].done++;
    return;
  }
  std::memcpy(&wp, data.data(), sizeof wp);
  data.remove_prefix(sizeof wp);
  if (wp.ip_len < 0 || size_t(wp.ip_len) > data.size() || wp.index < 0 || size_t(wp.index) >= listeners.size()) {
    log(log_level::warning, "a malformed UDP packet frame from the master; dropped");
    shm->workers()[my_worker_id].done++;
    return;
  }
  client_info ci;
  ci.server_port = listeners[size_t(wp.index)].port;
  ci.server_fd = size_t(wp.index) < listen_fds.size() ? listen_fds[size_t(wp.index)] : -1;
  ci.reactor_id = h.reactor;
  ci.remote_ip.assign(data.data(), size_t(wp.ip_len));
  ci.remote_port = wp.remote_port;
  ci.last_time = ci.last_recv_time = now_ms() / 1000;
  data.remove_prefix(size_t(wp.ip_len));
  server& s = *self;
  if (s.on_packet) run_callback("on_packet", [&] { s.on_packet(s, data, ci); });
  count_request();
}

bool server::sendto(std::string_view ip, int port, std::string_view data, int server_socket) {
  auto& d = *impl_;
  if (d.who != role::worker) return d.fail("sendto: only in a worker process (in a callback)");
  if (port <= 0 || port > 65535) return d.fail(fmt::format("sendto: bad port {}", port));
  if (data.size() > kMaxDatagram)
    return d.fail(fmt::format("sendto: {} bytes is more than a UDP datagram holds ({})", data.size(), kMaxDatagram));
  std::string host(ip);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  sockaddr_storage sa{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&sa);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&sa);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(uint16_t(port));
    len = sizeof *v4;
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(uint16_t(port));
    len = sizeof *v6;
  } else {
    return d.fail(fmt::format("sendto: '{}' is not an IP address", host));
  }
  // server_socket: a UDP port's descriptor (client_info::server_fd); -1: the
  // first UDP port of the address's family.
  int fd = -1;
  for (size_t i = 0; i < d.listeners.size() && fd < 0; ++i) {
    if (!d.is_udp(i) || i >= d.listen_fds.size() || d.listen_fds[i] < 0) continue;
    if (server_socket >= 0 ? d.listen_fds[i] == server_socket : socket_family(d.listen_fds[i]) == sa.ss_family)
      fd = d.listen_fds[i];
  }
  if (fd < 0)
    return d.fail(server_socket >= 0 ? fmt::format("sendto: {} is not a UDP port of this server", server_socket)
                                     : fmt::format("sendto: no UDP port for {} addresses",
                                                   sa.ss_family == AF_INET ? "IPv4" : "IPv6"));
  int64_t deadline = now_ms() + 1000;
  for (;;) {
    ssize_t n = ::sendto(fd, data.data(), data.size(), MSG_DONTWAIT | MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&sa),
                         len);
    if (n >= 0) break;
    if (errno == EINTR) continue;
    if ((errno == EAGAIN || errno == EWOULDBLOCK) && now_ms() < deadline) {
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, 100);
      continue;
    }
    return d.fail(fmt::format("sendto {}: {}", host_port(host, port), errno_text(errno)));
  }
  d.shm->total_send_bytes += data.size();
  return true;
}

// --- sendfile ----------------------------------------------------------------------

// The file is read here, in pieces, and sent like send() (PROCESS: to the
// master, which queues it; BASE: queued on the socket), except that it is not
// held to socket_buffer_size: the whole range is queued, however slowly the
// client reads. TLS ports encrypt it like any send().
bool server::sendfile(int fd, const std::string& path, int64_t offset, int64_t length) {
  auto& d = *impl_;
  if (d.who != role::worker) return d.fail("sendfile: only in a worker process (in a callback)");
  if (fd <= 0) return d.fail(fmt::format("sendfile: bad fd {}", fd));
  if (offset < 0 || length < 0) return d.fail("sendfile: offset and length must not be negative");
  connection_ptr c;
  if (d.run_mode == mode::base) {
    c = d.conns.find(fd);
    if (!c || c->closing) return d.fail(fmt::format("sendfile: no connection {} (in this worker)", fd));
  }
  int file = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (file < 0) return d.fail(fmt::format("sendfile: {}: {}", path, errno_text(errno)));
  struct stat st {};
  if (fstat(file, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(file);
    return d.fail(fmt::format("sendfile: {}: not a regular file", path));
  }
  const int64_t size = st.st_size;
  if (offset >= size) {
    ::close(file);
    return d.fail(fmt::format("sendfile: {}: nothing to send at offset {} (size {})", path, offset, size));
  }
  if (length == 0) length = size - offset;
  if (length > size - offset) {
    ::close(file);
    return d.fail(fmt::format("sendfile: {}: offset {} + length {} is past the end (size {})", path, offset, length,
                              size));
  }
  std::string chunk;
  int64_t at = offset, end = offset + length;
  while (at < end) {
    chunk.resize(size_t(std::min<int64_t>(int64_t(kFileChunk), end - at)));
    ssize_t n = ::pread(file, chunk.data(), chunk.size(), at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = n < 0 ? errno : 0;
      ::close(file);
      return d.fail(fmt::format("sendfile: {}: {}", path, n < 0 ? errno_text(e) : "the file shrank"));
    }
    std::string_view piece(chunk.data(), size_t(n));
    if (d.run_mode == mode::base) {
      std::string why;
      if (!d.send_to_client(*c, piece, &why, true)) {
        ::close(file);
        return d.fail(std::move(why));
      }
    } else if (!d.write_frames(ipc::cmd_send, fd, 1, piece)) {
      ::close(file);
      return d.fail("sendfile: the master is gone");
    }
    at += n;
  }
  ::close(file);
  return true;
}

// --- TLS ---------------------------------------------------------------------------

namespace {

bool raw_send(net::socket_server& ss, int sid, const std::string& bytes) {
  if (bytes.empty()) return true;
  char* buf = static_cast<char*>(mem_alloc(bytes.size()));
  std::memcpy(buf, bytes.data(), bytes.size());
  return ss.send(sid, buf, bytes.size()) == 0;
}

}  // namespace

// Ciphertext from the connection (on the thread that reads it).
bool server::impl::tls_data(const connection_ptr& c, const char* data, size_t size) {
  if (!c->tls) return false;
  tls::session& t = *c->tls;
  std::string plain, out, why;
  tls::session::status st;
  {
    std::lock_guard lk(t.mu);
    st = t.feed(data, size, &plain, &out, &why);
    raw_send(socket_of(*c), c->sid, out);  // under the lock: records leave in order
  }
  if (st == tls::session::status::failed) {
    log(log_level::warning,
        fmt::format("connection {} ({}): {}; closing it", c->session, host_port(c->ip, c->port), why));
    close_connection(*c, false);  // an alert may be queued: let it go out
    return true;
  }
  if (st == tls::session::status::ready) {
    log(log_level::debug, fmt::format("connection {} ({}): {} handshake done", c->session, host_port(c->ip, c->port),
                                      t.version()));
    deliver(*c, ipc::ev_connect);
  }
  if (!plain.empty() && !c->closing) client_plain(c, plain.data(), plain.size());
  if (st == tls::session::status::closed && !c->closing) close_connection(*c, false);  // close_notify: answer, close
  return true;
}

// Plaintext for the client, on any thread: encrypted and queued under the lock.
bool server::impl::tls_send(connection& c, std::string_view data, std::string* why) {
  tls::session& t = *c.tls;
  std::string out, err;
  std::lock_guard lk(t.mu);
  if (!t.write(data, &out, &err)) {
    if (why) *why = fmt::format("send: connection {}: {}", c.session, err);
    return false;
  }
  if (!raw_send(socket_of(c), c.sid, out)) {
    if (why) *why = fmt::format("send: connection {} is closed", c.session);
    return false;
  }
  return true;
}

void server::impl::tls_goodbye(connection& c) {
  tls::session& t = *c.tls;
  std::string out;
  std::lock_guard lk(t.mu);
  t.shutdown(&out);
  raw_send(socket_of(c), c.sid, out);
}

}  // namespace tern::server
