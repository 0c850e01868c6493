// tern::server connections: where a client socket lives (the master's reactor
// threads in PROCESS mode, the worker that accepted it in BASE mode), its
// packets, the choice of worker (dispatch_mode), what workers ask of the
// master over their socketpairs, and the connection methods of the API.
#include <arpa/inet.h>
#include <fmt/format.h>

#include <climits>
#include <cstring>
#include <map>

#include "server/server_impl.hpp"
#include "tern/core/types.hpp"

namespace tern::server {

namespace {

std::string host_port(const std::string& host, int port) {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

uint32_t hash_ip(const std::string& ip) {
  in_addr v4{};
  if (inet_pton(AF_INET, ip.c_str(), &v4) == 1) return ntohl(v4.s_addr);  // swoole: ip2long(ip) % worker_num
  uint32_t h = 2166136261u;  // FNV-1a for IPv6
  for (unsigned char ch : ip) h = (h ^ ch) * 16777619u;
  return h;
}

}  // namespace

connection_ptr server::impl::new_connection(int index, const std::string& ip, int port) {
  auto c = std::make_shared<connection>();
  // Session ids: 1, 2, ... shared by all processes (BASE workers draw from
  // the same counter), back to 1 after 2^31 - 1.
  uint32_t n = uint32_t(shm->next_session.fetch_add(1));
  c->session = int(n % 0x7fffffffu) + 1;
  c->port_index = index;
  c->server_port = listeners[size_t(index)].port;
  c->server_fd = size_t(index) < listen_fds.size() ? listen_fds[size_t(index)] : -1;
  c->ip = ip;
  c->port = port;
  c->ip_hash = hash_ip(ip);
  c->connect_ms = now_ms();
  c->last_recv_ms = c->connect_ms;
  c->splitter.configure(&port_cfg[size_t(index)]);
  if (size_t(index) < port_tls.size() && port_tls[size_t(index)])
    c->tls = std::make_shared<tls::session>(port_tls[size_t(index)]);
  return c;
}

std::pair<size_t, size_t> server::impl::watermarks(const connection& c) const {
  const auto& s = port_cfg[size_t(c.port_index)];
  // swoole: buffer_high_watermark defaults to 80% of socket_buffer_size.
  double high = s.buffer_high_watermark > 0 ? s.buffer_high_watermark : double(s.socket_buffer_size) * 0.8;
  return {std::max<size_t>(1, size_t(high)), size_t(s.buffer_low_watermark)};
}

net::socket_server& server::impl::socket_of(const connection& c) {
  return run_mode == mode::base ? *base_ss : *reactors[size_t(c.reactor)];
}

// --- events from socket_server ------------------------------------------------

void server::impl::reactor_event(int /*reactor*/, uint32_t owner, net::socket_event& ev) {
  if ((owner & 0xC0000000u) == kPipeOwner) {
    pipe_event(int(owner & 0x3fffffffu), ev);
    return;
  }
  if ((owner & 0xC0000000u) == kListenOwner) {  // a UDP port (server_io.cpp)
    udp_event(int(owner & 0x3fffffffu), ev);
    return;
  }
  client_event(owner, ev);
}

void server::impl::client_event(uint32_t owner, net::socket_event& ev) {
  const int session = int(owner);
  switch (ev.type) {
    case net::socket_event_type::data: {
      connection_ptr c = conns.find(session);
      if (c && !c->closing) client_data(c, ev.buffer, size_t(ev.ud));
      mem_free(ev.buffer);
      break;
    }
    case net::socket_event_type::connect:
      if (ev.text == "start")  // not "transfer" (resume()); TLS: once the handshake is done
        if (connection_ptr c = conns.find(session); c && !c->tls) deliver(*c, ipc::ev_connect);
      break;
    case net::socket_event_type::close:
    case net::socket_event_type::error: {
      connection_ptr c = conns.remove(session);
      if (!c) break;
      socket_of(*c).close(owner, ev.id);  // a peer close leaves the socket half-open: release it
      shm->connection_num--;
      shm->close_count++;
      if (ev.type == net::socket_event_type::error)
        log(log_level::debug, fmt::format("connection {} ({}): {}", c->session, host_port(c->ip, c->port), ev.text));
      if (!c->tls || c->tls->ready()) deliver(*c, ipc::ev_close);  // a failed handshake had no on_connect
      break;
    }
    case net::socket_event_type::warning: {
      connection_ptr c = conns.find(session);
      if (!c) break;
      if (ev.ud > 0) {
        if (!c->full.exchange(true)) deliver(*c, ipc::ev_buffer_full);
      } else {
        c->overflow = false;
        if (c->full.exchange(false)) deliver(*c, ipc::ev_buffer_empty);
      }
      break;
    }
    default:
      mem_free(ev.buffer);
      break;
  }
}

void server::impl::client_data(const connection_ptr& c, const char* data, size_t size) {
  if (c->tls && tls_data(c, data, size)) return;  // decrypted, then client_plain()
  client_plain(c, data, size);
}

namespace {
// Frames for workers collected while one read's packets are dispatched (a
// reactor thread's own), so several packets reach a worker in one write.
thread_local std::map<int, std::string>* tl_worker_batch = nullptr;
}  // namespace

void server::impl::client_plain(const connection_ptr& c, const char* data, size_t size) {
  c->recv_bytes += size;
  c->last_recv_ms = now_ms();
  shm->total_recv_bytes += size;
  std::string why;
  std::map<int, std::string> frames_by_worker;
  tl_worker_batch = run_mode == mode::process ? &frames_by_worker : nullptr;
  bool ok = c->splitter.feed(
      data, size, [&](std::string_view packet) { deliver(*c, ipc::ev_receive, packet); }, &why);
  tl_worker_batch = nullptr;
  for (auto& [worker, frames] : frames_by_worker) send_frames(worker, frames);
  if (!ok) {
    log(log_level::warning,
        fmt::format("connection {} ({}): {}; closing it", c->session, host_port(c->ip, c->port), why));
    close_connection(*c, true);
  }
}

bool server::impl::hash_dispatch() const {
  auto m = cfg.dispatch;
  return m == dispatch_mode::fd_modulo || m == dispatch_mode::ip_hash || m == dispatch_mode::uid;
}

// An event for the callbacks: in BASE mode they run here; in PROCESS mode it
// goes to the chosen worker. swoole delivers no connect/close/buffer events
// in dispatch modes 1, 3 and 7, where a connection has no worker of its own.
void server::impl::deliver(connection& c, uint8_t type, std::string_view data) {
  if (run_mode == mode::process) {
    if (type != ipc::ev_receive && !hash_dispatch()) return;
    int w = pick_worker(c, type == ipc::ev_receive);
    if (type == ipc::ev_connect) {  // the peer rides along (impl::on_peer, read in the worker)
      ipc::wire_peer wp{int32_t(c.port_index), int32_t(c.port), int32_t(c.server_port), 0};
      std::string payload(reinterpret_cast<const char*>(&wp), sizeof wp);
      payload += c.ip;
      to_worker(w, type, c.session, c.reactor, payload);
      return;
    }
    to_worker(w, type, c.session, c.reactor, data);
    return;
  }
  server& s = *self;
  const int fd = c.session, rid = c.reactor;
  switch (type) {
    case ipc::ev_connect:
      if (on_peer) run_callback("on_connect", [&] { on_peer(fd, peer_info{c.ip, c.port, c.server_port, c.port_index}); });
      if (s.on_connect) run_callback("on_connect", [&] { s.on_connect(s, fd, rid); });
      break;
    case ipc::ev_receive:
      if (c.closing) break;
      if (s.on_receive) run_callback("on_receive", [&] { s.on_receive(s, fd, rid, data); });
      count_request();
      break;
    case ipc::ev_close:
      if (s.on_close) run_callback("on_close", [&] { s.on_close(s, fd, rid); });
      break;
    case ipc::ev_buffer_full:
      if (s.on_buffer_full) run_callback("on_buffer_full", [&] { s.on_buffer_full(s, fd); });
      break;
    case ipc::ev_buffer_empty:
      if (s.on_buffer_empty) run_callback("on_buffer_empty", [&] { s.on_buffer_empty(s, fd); });
      break;
    default:
      break;
  }
}

int server::impl::pick_worker(connection& c, bool packet) {
  const int n = cfg.worker_num;
  int w = 0;
  switch (cfg.dispatch) {
    case dispatch_mode::round_robin:
      w = int(round_robin.fetch_add(1, std::memory_order_relaxed) % uint64_t(n));
      break;
    case dispatch_mode::fd_modulo:
      w = c.session % n;
      break;
    case dispatch_mode::ip_hash:
      w = int(c.ip_hash % uint32_t(n));
      break;
    case dispatch_mode::uid: {
      uint32_t uid = c.uid.load();
      w = uid ? int(uid % uint32_t(n)) : c.session % n;
      break;
    }
    case dispatch_mode::preemptive:
    case dispatch_mode::stream: {
      // An idle worker (nothing sent to it that it has not finished), looking
      // from a rotating start; all busy: the one with the fewest unfinished.
      int start = int(round_robin.fetch_add(1, std::memory_order_relaxed) % uint64_t(n));
      w = start;
      int64_t fewest = INT64_MAX;
      for (int i = 0; i < n; ++i) {
        int k = (start + i) % n;
        auto& sw = shm->workers()[k];
        int64_t unfinished = int64_t(sw.dispatched.load() - sw.done.load());
        if (unfinished < fewest) {
          fewest = unfinished;
          w = k;
          if (unfinished <= 0) break;
        }
      }
      break;
    }
  }
  if (packet) shm->workers()[w].dispatched++;
  return w;
}

// Frames to a worker's socketpair, through the reactor that owns it (any
// thread may call socket_server::send; each frame is one buffer, so frames
// of different threads never interleave inside a frame).
void server::impl::send_frames(int worker, std::string& frames) {
  if (frames.empty()) return;
  char* buf = static_cast<char*>(mem_alloc(frames.size()));
  std::memcpy(buf, frames.data(), frames.size());
  reactors[size_t(worker) % reactors.size()]->send(pipe_sid[size_t(worker)], buf, frames.size());
  frames.clear();
}

void server::impl::to_worker(int worker, uint8_t type, int fd, int reactor, std::string_view payload,
                             uint32_t arg) {
  if (tl_worker_batch) {  // collected; client_plain sends them
    std::string& frames = (*tl_worker_batch)[worker];
    ipc::for_each_frame(type, fd, uint16_t(reactor), arg, payload, [&](const ipc::header& h, std::string_view chunk) {
      ipc::append_frame(frames, h, chunk);
      if (frames.size() > ipc::kMaxChunk) send_frames(worker, frames);
      return true;
    });
    return;
  }
  auto& ss = *reactors[size_t(worker) % reactors.size()];
  const int sid = pipe_sid[size_t(worker)];
  ipc::for_each_frame(type, fd, uint16_t(reactor), arg, payload, [&](const ipc::header& h, std::string_view chunk) {
    char* buf = static_cast<char*>(mem_alloc(sizeof h + chunk.size()));
    std::memcpy(buf, &h, sizeof h);
    if (!chunk.empty()) std::memcpy(buf + sizeof h, chunk.data(), chunk.size());
    ss.send(sid, buf, sizeof h + chunk.size());
    return true;
  });
}

void server::impl::pipe_event(int worker, net::socket_event& ev) {
  switch (ev.type) {
    case net::socket_event_type::data: {
      // Consecutive sends to one connection (a worker's replies to a batch of
      // packets) go to the client as one write.
      int run_fd = -1;
      std::string run;
      auto flush_run = [&] {
        if (run_fd < 0) return;
        if (connection_ptr c = conns.find(run_fd)) send_to_client(*c, run, nullptr, false);
        run_fd = -1;
        run.clear();
      };
      bool ok = pipe_parsers[size_t(worker)].feed(
          ev.buffer, size_t(ev.ud), [&](const ipc::header& h, std::string_view payload) {
            if (h.type == ipc::cmd_send && h.arg == 0) {
              if (h.fd != run_fd) flush_run();
              run_fd = h.fd;
              run.append(payload);
              return;
            }
            flush_run();
            worker_command(worker, h, payload);
          });
      flush_run();
      mem_free(ev.buffer);
      if (!ok) log(log_level::error, fmt::format("worker #{}: corrupt frame on its socketpair; bytes dropped", worker));
      break;
    }
    case net::socket_event_type::close:
    case net::socket_event_type::error:
      log(stopping ? log_level::debug : log_level::error, fmt::format("worker #{}: its socketpair closed ({})", worker,
                                        ev.text.empty() ? "the manager is gone?" : ev.text));
      break;
    default:
      mem_free(ev.buffer);
      break;
  }
}

// What a worker asked for (on its pipe's reactor thread).
void server::impl::worker_command(int worker, const ipc::header& h, std::string_view payload) {
  auto reply = [&](std::string_view answer) { to_worker(worker, ipc::ev_reply, h.fd, 0, answer, h.arg); };
  switch (h.type) {
    case ipc::cmd_send:
      if (connection_ptr c = conns.find(h.fd)) send_to_client(*c, payload, nullptr, h.arg == 1);
      break;
    case ipc::cmd_close:
      if (connection_ptr c = conns.find(h.fd)) close_connection(*c, !payload.empty() && payload[0] == 1);
      break;
    case ipc::cmd_pause:
      if (connection_ptr c = conns.find(h.fd)) socket_of(*c).pause(uint32_t(c->session), c->sid);
      break;
    case ipc::cmd_resume:
      if (connection_ptr c = conns.find(h.fd)) socket_of(*c).start(uint32_t(c->session), c->sid);
      break;
    case ipc::cmd_exists: {
      connection_ptr c = conns.find(h.fd);
      char yes = c && !c->closing ? 1 : 0;
      reply(std::string_view(&yes, 1));
      break;
    }
    case ipc::cmd_info: {
      connection_ptr c = conns.find(h.fd);
      if (!c) {
        reply({});
        break;
      }
      client_info ci;
      fill_info(*c, &ci);
      ipc::wire_info w{};
      w.server_port = ci.server_port;
      w.server_fd = ci.server_fd;
      w.socket_fd = ci.socket_fd;
      w.reactor_id = ci.reactor_id;
      w.remote_port = ci.remote_port;
      w.uid = ci.uid;
      w.connect_time = ci.connect_time;
      w.last_time = ci.last_time;
      w.last_recv_time = ci.last_recv_time;
      w.last_send_time = ci.last_send_time;
      w.recv_bytes = ci.recv_bytes;
      w.send_bytes = ci.send_bytes;
      std::string out(reinterpret_cast<const char*>(&w), sizeof w);
      out += ci.remote_ip;
      reply(out);
      break;
    }
    case ipc::cmd_list: {
      int32_t args[2] = {0, 10};
      if (payload.size() >= sizeof args) std::memcpy(args, payload.data(), sizeof args);
      std::vector<int> ids = conns.list(args[0], args[1]);
      std::vector<int32_t> out(ids.begin(), ids.end());
      reply(std::string_view(reinterpret_cast<const char*>(out.data()), out.size() * sizeof(int32_t)));
      break;
    }
    case ipc::cmd_bind: {
      uint32_t uid = 0;
      if (payload.size() >= sizeof uid) std::memcpy(&uid, payload.data(), sizeof uid);
      connection_ptr c = conns.find(h.fd);
      uint32_t none = 0;
      char ok = c && uid != 0 && c->uid.compare_exchange_strong(none, uid) ? 1 : 0;
      reply(std::string_view(&ok, 1));
      break;
    }
    case ipc::cmd_heartbeat: {
      heartbeat_check();
      char ok = 1;
      reply(std::string_view(&ok, 1));
      break;
    }
    default:
      log(log_level::warning, fmt::format("worker #{}: unknown frame type {}", worker, int(h.type)));
      break;
  }
}

// In the master (PROCESS) it runs on reactor threads: it must not touch
// `error`; the caller in a BASE worker copies *why there.
bool server::impl::send_to_client(connection& c, std::string_view data, std::string* why, bool unlimited) {
  auto& ss = socket_of(c);
  size_t limit = port_cfg[size_t(c.port_index)].socket_buffer_size;
  size_t queued = ss.pending_bytes(c.sid);
  if (queued >= limit && !unlimited) {
    if (!c.overflow.exchange(true))
      log(log_level::warning, fmt::format("connection {} ({}): output buffer overflow ({} bytes queued, "
                                          "socket_buffer_size {}); data dropped until it drains",
                                          c.session, host_port(c.ip, c.port), queued, limit));
    if (why) *why = "send: output buffer overflow";
    return false;
  }
  if (c.tls) {  // encrypted, then sent (server_io.cpp)
    if (!tls_send(c, data, why)) return false;
  } else {
    char* buf = static_cast<char*>(mem_alloc(data.size()));
    std::memcpy(buf, data.data(), data.size());
    if (ss.send(c.sid, buf, data.size()) != 0) {
      if (why) *why = fmt::format("send: connection {} is closed", c.session);
      return false;
    }
  }
  c.send_bytes += data.size();
  c.last_send_ms = now_ms();
  shm->total_send_bytes += data.size();
  return true;
}

void server::impl::close_connection(connection& c, bool reset) {
  c.closing = true;
  if (!reset && c.tls) tls_goodbye(c);  // close_notify goes out before the close
  if (reset)
    socket_of(c).shutdown(uint32_t(c.session), c.sid);
  else
    socket_of(c).close(uint32_t(c.session), c.sid);  // after what is queued went out
}

// Closes the connections that sent nothing for heartbeat_idle_time (their
// close events then run on_close). Returns how many.
int server::impl::heartbeat_check() {
  int closed = 0;
  const int64_t now = now_ms();
  for (const connection_ptr& c : conns.all()) {
    if (c->closing) continue;
    int idle_s = port_cfg[size_t(c->port_index)].heartbeat_idle_time;
    if (idle_s <= 0) continue;
    int64_t idle = now - c->last_recv_ms.load();
    if (idle < int64_t(idle_s) * 1000) continue;
    log(log_level::info, fmt::format("connection {} ({}): nothing received for {} ms; closed (heartbeat)", c->session,
                                     host_port(c->ip, c->port), idle));
    close_connection(*c, true);
    ++closed;
  }
  return closed;
}

void server::impl::fill_info(const connection& c, client_info* out) const {
  out->server_port = c.server_port;
  out->server_fd = c.server_fd;
  out->socket_fd = c.session;
  out->reactor_id = c.reactor;
  out->remote_ip = c.ip;
  out->remote_port = c.port;
  out->connect_time = c.connect_ms / 1000;
  out->last_recv_time = c.last_recv_ms.load() / 1000;
  out->last_send_time = c.last_send_ms.load() / 1000;
  out->last_time = out->last_recv_time;
  out->uid = c.uid.load();
  out->recv_bytes = c.recv_bytes.load();
  out->send_bytes = c.send_bytes.load();
}

// --- the connection methods of the API ----------------------------------------

bool server::send(int fd, std::string_view data, int /*server_socket*/) {
  auto& d = *impl_;
  if (d.who != role::worker) return d.fail("send: only in a worker process (in a callback)");
  if (fd <= 0) return d.fail(fmt::format("send: bad fd {}", fd));
  if (data.empty()) return d.fail("send: no data");
  if (data.size() > d.cfg.buffer_output_size)
    return d.fail(fmt::format("send: {} bytes is more than buffer_output_size ({})", data.size(),
                              d.cfg.buffer_output_size));
  if (d.run_mode == mode::base) {
    connection_ptr c = d.conns.find(fd);
    if (!c || c->closing) return d.fail(fmt::format("send: no connection {} (in this worker)", fd));
    std::string why;
    return d.send_to_client(*c, data, &why) || d.fail(std::move(why));
  }
  return d.write_frames(ipc::cmd_send, fd, 0, data) || d.fail("send: the master is gone");
}

bool server::close(int fd, bool reset) {
  auto& d = *impl_;
  if (d.who != role::worker) return d.fail("close: only in a worker process (in a callback)");
  if (d.run_mode == mode::base) {
    connection_ptr c = d.conns.find(fd);
    if (!c || c->closing) return d.fail(fmt::format("close: no connection {} (in this worker)", fd));
    d.close_connection(*c, reset);
    return true;
  }
  char how = reset ? 1 : 0;
  return d.write_frames(ipc::cmd_close, fd, 0, std::string_view(&how, 1)) || d.fail("close: the master is gone");
}

bool server::pause(int fd) {
  auto& d = *impl_;
  if (d.who != role::worker) return d.fail("pause: only in a worker process");
  if (d.run_mode == mode::base) {
    connection_ptr c = d.conns.find(fd);
    if (!c) return d.fail(fmt::format("pause: no connection {}", fd));
    d.base_ss->pause(uint32_t(fd), c->sid);
    return true;
  }
  return d.write_frames(ipc::cmd_pause, fd, 0, {});
}

bool server::resume(int fd) {
  auto& d = *impl_;
  if (d.who != role::worker) return d.fail("resume: only in a worker process");
  if (d.run_mode == mode::base) {
    connection_ptr c = d.conns.find(fd);
    if (!c) return d.fail(fmt::format("resume: no connection {}", fd));
    d.base_ss->start(uint32_t(fd), c->sid);
    return true;
  }
  return d.write_frames(ipc::cmd_resume, fd, 0, {});
}

bool server::exists(int fd) const {
  auto& d = *impl_;
  if (d.who != role::worker || fd <= 0) return false;
  if (d.run_mode == mode::base) {
    connection_ptr c = d.conns.find(fd);
    return c && !c->closing;
  }
  auto r = d.query(ipc::cmd_exists, fd, {});
  return r && r->size() == 1 && (*r)[0] == 1;
}

std::optional<client_info> server::get_client_info(int fd) const {
  auto& d = *impl_;
  if (d.who != role::worker || fd <= 0) return std::nullopt;
  client_info ci;
  if (d.run_mode == mode::base) {
    connection_ptr c = d.conns.find(fd);
    if (!c) return std::nullopt;
    d.fill_info(*c, &ci);
    return ci;
  }
  auto r = d.query(ipc::cmd_info, fd, {});
  if (!r || r->size() < sizeof(ipc::wire_info)) return std::nullopt;
  ipc::wire_info w;
  std::memcpy(&w, r->data(), sizeof w);
  ci.server_port = w.server_port;
  ci.server_fd = w.server_fd;
  ci.socket_fd = w.socket_fd;
  ci.reactor_id = w.reactor_id;
  ci.remote_port = w.remote_port;
  ci.uid = w.uid;
  ci.connect_time = w.connect_time;
  ci.last_time = w.last_time;
  ci.last_recv_time = w.last_recv_time;
  ci.last_send_time = w.last_send_time;
  ci.recv_bytes = w.recv_bytes;
  ci.send_bytes = w.send_bytes;
  ci.remote_ip = r->substr(sizeof w);
  return ci;
}

std::vector<int> server::get_client_list(int start_fd, int count) const {
  auto& d = *impl_;
  if (d.who != role::worker) return {};
  count = std::clamp(count, 0, 100);  // swoole: at most 100 a call
  if (d.run_mode == mode::base) return d.conns.list(start_fd, count);
  int32_t args[2] = {start_fd, count};
  auto r = d.query(ipc::cmd_list, 0, std::string_view(reinterpret_cast<const char*>(args), sizeof args));
  std::vector<int> out;
  if (!r) return out;
  for (size_t i = 0; i + sizeof(int32_t) <= r->size(); i += sizeof(int32_t)) {
    int32_t v;
    std::memcpy(&v, r->data() + i, sizeof v);
    out.push_back(v);
  }
  return out;
}

bool server::bind(int fd, uint32_t uid) {
  auto& d = *impl_;
  if (d.who != role::worker) return d.fail("bind: only in a worker process");
  if (uid == 0) return d.fail("bind: uid must not be 0");
  if (d.run_mode == mode::base) {
    connection_ptr c = d.conns.find(fd);
    uint32_t none = 0;
    return (c && c->uid.compare_exchange_strong(none, uid)) || d.fail("bind: no such connection, or bound already");
  }
  auto r = d.query(ipc::cmd_bind, fd, std::string_view(reinterpret_cast<const char*>(&uid), sizeof uid));
  return (r && r->size() == 1 && (*r)[0] == 1) || d.fail("bind: no such connection, or bound already");
}

bool server::heartbeat(bool /*close_idle*/) {
  auto& d = *impl_;
  if (d.who != role::worker) return d.fail("heartbeat: only in a worker process");
  if (d.run_mode == mode::base) {
    d.heartbeat_check();
    return true;
  }
  char yes = 1;
  return d.query(ipc::cmd_heartbeat, 0, std::string_view(&yes, 1)).has_value();
}

}  // namespace tern::server
