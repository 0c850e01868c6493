// The built-in "gate" module: skynet's C gate (service_gate), our own code.
// It listens on one address, cuts each connection's bytes into packets with a
// big-endian length header (2 bytes: 'S', or 4 bytes: 'L') and forwards every
// packet to the connection's agent, to a broker, or to the watchdog.
//
// Launch (skynet's argument string):
//   skynet.launch("gate", "S", watchdog, "127.0.0.1:8888", client_type, max_connections
//                 [, max_packet])
//   watchdog: ":hex" address, ".name", a decimal handle, or "!" for none.
//   client_type: the message type of forwarded packets (0: PTYPE_CLIENT).
//   max_packet (tern): the largest packet accepted; default the config key
//   gate_max_packet, else 65535 ('S') or 16 MiB - 1 ('L', skynet's limit).
//
// Text commands (PTYPE_TEXT messages to the gate):
//   "kick ID"                    close connection ID (after pending writes)
//   "forward ID :AGENT :CLIENT"  packets of ID go to AGENT, with source CLIENT
//   "broker NAME"                every packet goes to NAME instead
//   "start ID"                   begin reading connection ID
//   "close"                      stop listening
// Reports to the watchdog (PTYPE_TEXT):
//   "ID open ID ADDR:0"  a connection was accepted (ADDR is "ip:port"); it is
//                        not read until "start ID"
//   "ID close"           it is gone
//   "ID data BYTES"      a packet of a connection with no agent
// A PTYPE_CLIENT message to the gate is written to a connection: its last 4
// bytes (little-endian) are the connection id, the rest is sent as it is.
//
// A packet goes out as one message sent with TAG_DONTCOPY: its buffer is
// handed over, not copied again. The last packet of a read (when its payload
// came whole in that read) is the read buffer itself, with the payload moved over the
// header: the usual one-request-per-read case allocates nothing; the others of
// the same read get a buffer of their own (a message owns one whole block).
// Zero-length packets are skipped, as skynet's gate does. A connection past
// max_connections is closed at once and logged; a packet longer than max_packet
// closes its connection (the reason is logged; the watchdog sees "ID close").
//
// Threading: a service like any other; one worker at a time.
#include <cerrno>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "net/length_framer.hpp"
#include "tern/core/service.hpp"
#include "tern/module_socket.h"

namespace tern::net {
namespace {

constexpr int kBacklog = 32;
constexpr uint32_t kDefaultLongLimit = 0xffffff;  // skynet closes at 16 MiB

struct connection {
  int id = -1;
  uint32_t agent = 0;
  uint32_t client = 0;
  bool closing = false;  // an oversize packet: its data is dropped until it closes
  std::string remote;    // "ip:port"
  length_framer framer;
};

std::vector<std::string_view> words(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
    size_t start = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r') ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

bool parse_long(std::string_view s, int base, long long* out) {
  if (s.empty() || s.size() > 32) return false;
  std::string text(s);
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(text.c_str(), &end, base);
  if (errno || *end != '\0') return false;
  *out = v;
  return true;
}

class gate {
 public:
  ~gate() {
    if (!ctx_) return;
    for (auto& [id, c] : conns_) tern_socket_close(ctx_, id);
    if (listen_id_ >= 0) tern_socket_close(ctx_, listen_id_);
  }

  int init(tern_context* ctx, const char* args) {
    ctx_ = ctx;
    auto w = words(args ? args : "");
    if (w.size() < 4 || w[0].size() != 1) {
      tern_error(ctx, "Invalid gate parm %s", args ? args : "");
      return 1;
    }
    char header = w[0][0];
    if (header != 'S' && header != 'L') {
      tern_error(ctx, "Invalid data header style");
      return 1;
    }
    long long tag = 0, max = 0, max_packet = 0;
    if (!parse_long(w[3], 10, &tag) || tag < 0 || tag > 0xffff) {
      tern_error(ctx, "Invalid gate parm %s", args);
      return 1;
    }
    if (w.size() < 5 || !parse_long(w[4], 10, &max) || max <= 0) {
      tern_error(ctx, "Need max connection");
      return 1;
    }
    if (w.size() >= 6 && (!parse_long(w[5], 10, &max_packet) || max_packet < 0)) {
      tern_error(ctx, "Invalid max packet size %.*s", int(w[5].size()), w[5].data());
      return 1;
    }
    if (max_packet == 0) {
      if (const char* env = tern_command(ctx, "GETENV", "gate_max_packet")) {
        if (!parse_long(env, 10, &max_packet) || max_packet < 0) {
          tern_error(ctx, "Invalid gate_max_packet %s", env);
          return 1;
        }
      }
    }
    frame_.header_bytes = header == 'S' ? 2 : 4;
    uint32_t limit = framing::limit(frame_.header_bytes);
    if (max_packet == 0) max_packet = header == 'S' ? limit : kDefaultLongLimit;
    frame_.max_packet = max_packet > limit ? limit : uint32_t(max_packet);
    client_tag_ = tag == 0 ? TERN_PTYPE_CLIENT : int(tag);
    max_connections_ = size_t(max);

    if (w[1] != "!") {
      watchdog_ = resolve(w[1]);
      if (watchdog_ == 0) {
        tern_error(ctx, "Invalid watchdog %.*s", int(w[1].size()), w[1].data());
        return 1;
      }
    }
    tern_callback(ctx, this, &gate::callback);
    return listen(w[2]);
  }

 private:
  static int callback(tern_context*, void* ud, int type, int, uint32_t source, const void* msg,
                      size_t sz) {
    auto* g = static_cast<gate*>(ud);
    switch (type) {
      case TERN_PTYPE_TEXT:
        g->command(std::string_view(static_cast<const char*>(msg), sz));
        break;
      case TERN_PTYPE_CLIENT:
        g->write(source, msg, sz);
        break;
      case TERN_PTYPE_SOCKET:
        if (sz >= sizeof(tern_socket_message))
          g->socket(static_cast<const tern_socket_message*>(msg), sz - sizeof(tern_socket_message));
        break;
      default:
        break;
    }
    return 0;
  }

  // ":hex", ".name" or a decimal handle; 0 when unknown.
  uint32_t resolve(std::string_view name) {
    long long v = 0;
    if (name.size() > 1 && name[0] == ':')
      return parse_long(name.substr(1), 16, &v) ? uint32_t(v) : 0;
    if (name.size() > 1 && name[0] == '.') {
      const char* r = tern_command(ctx_, "QUERY", std::string(name).c_str());
      return r && r[0] == ':' && parse_long(r + 1, 16, &v) ? uint32_t(v) : 0;
    }
    return parse_long(name, 10, &v) && v > 0 ? uint32_t(v) : 0;
  }

  // "host:port", "[v6]:port" or "port".
  int listen(std::string_view binding) {
    std::string host;
    std::string_view port_text = binding;
    if (size_t colon = binding.rfind(':'); colon != std::string_view::npos) {
      host = std::string(binding.substr(0, colon));
      port_text = binding.substr(colon + 1);
      if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    }
    long long port = 0;
    if (!parse_long(port_text, 10, &port) || port <= 0 || port > 65535) {
      tern_error(ctx_, "Invalid gate address %.*s", int(binding.size()), binding.data());
      return 1;
    }
    listen_id_ = tern_socket_listen(ctx_, host.c_str(), int(port), kBacklog);
    if (listen_id_ < 0) return 1;  // tern_socket_listen logged why
    tern_socket_start(ctx_, listen_id_);
    return 0;
  }

  connection* find(int id) {
    auto it = conns_.find(id);
    return it == conns_.end() ? nullptr : &it->second;
  }

  void report(const char* fmt, ...) __attribute__((format(printf, 2, 3))) {
    if (watchdog_ == 0) return;
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = std::vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (size_t(n) >= sizeof text) n = int(sizeof text - 1);
    tern_send(ctx_, 0, watchdog_, TERN_PTYPE_TEXT, 0, text, size_t(n));
  }

  void command(std::string_view text) {
    auto w = words(text);
    if (w.empty()) return;
    std::string_view cmd = w[0];
    long long id = 0;
    if (cmd == "kick") {
      if (w.size() >= 2 && parse_long(w[1], 10, &id) && find(int(id)))
        tern_socket_close(ctx_, int(id));
    } else if (cmd == "forward") {
      if (w.size() < 4 || !parse_long(w[1], 10, &id)) {
        tern_error(ctx_, "[gate] Invalid forward command : %.*s", int(text.size()), text.data());
        return;
      }
      if (connection* c = find(int(id))) {
        c->agent = resolve(w[2]);
        c->client = resolve(w[3]);
      }
    } else if (cmd == "broker") {
      broker_ = w.size() >= 2 ? resolve(w[1]) : 0;
    } else if (cmd == "start") {
      if (w.size() >= 2 && parse_long(w[1], 10, &id) && find(int(id)))
        tern_socket_start(ctx_, int(id));
    } else if (cmd == "close") {
      if (listen_id_ >= 0) {
        tern_socket_close(ctx_, listen_id_);
        listen_id_ = -1;
      }
    } else {
      tern_error(ctx_, "[gate] Unknown command : %.*s", int(text.size()), text.data());
    }
  }

  // PTYPE_CLIENT: the bytes before the last 4 go to the connection they name.
  void write(uint32_t source, const void* msg, size_t sz) {
    if (sz <= 4) {
      tern_error(ctx_, "Invalid client message from %x", source);
      return;
    }
    const auto* tail = static_cast<const uint8_t*>(msg) + sz - 4;
    uint32_t uid = uint32_t(tail[0]) | uint32_t(tail[1]) << 8 | uint32_t(tail[2]) << 16 |
                   uint32_t(tail[3]) << 24;
    if (!find(int(uid))) {
      tern_error(ctx_, "Invalid client id %d from %x", int(uid), source);
      return;
    }
    void* bytes = tern_take_message(ctx_);  // no copy: the socket takes the buffer
    if (bytes) tern_socket_send(ctx_, int(uid), bytes, sz - 4);
  }

  void forward(connection& c, char* packet, uint32_t size) {
    if (size == 0) {
      tern_free(packet);
      return;
    }
    if (broker_) {
      tern_send(ctx_, 0, broker_, client_tag_ | TERN_PTYPE_TAG_DONTCOPY, 0, packet, size);
    } else if (c.agent) {
      tern_send(ctx_, c.client, c.agent, client_tag_ | TERN_PTYPE_TAG_DONTCOPY, 0, packet, size);
    } else if (watchdog_) {
      char prefix[32];
      int n = std::snprintf(prefix, sizeof prefix, "%d data ", c.id);
      auto* text = static_cast<char*>(tern_malloc(size_t(n) + size));
      std::memcpy(text, prefix, size_t(n));
      std::memcpy(text + n, packet, size);
      tern_free(packet);
      tern_send(ctx_, 0, watchdog_, TERN_PTYPE_TEXT | TERN_PTYPE_TAG_DONTCOPY, 0, text,
                size_t(n) + size);
    } else {
      tern_free(packet);
    }
  }

  void data(const tern_socket_message* m) {
    connection* c = find(m->id);
    if (!c) {
      tern_error(ctx_, "Drop unknown connection %d message", m->id);
      tern_socket_close(ctx_, m->id);
      tern_free(m->buffer);
      return;
    }
    if (c->closing) {
      tern_free(m->buffer);
      return;
    }
    uint64_t length = 0;
    auto r = c->framer.feed(
        frame_, m->buffer, size_t(m->ud < 0 ? 0 : m->ud),
        [this, c](char* p, uint32_t n) { forward(*c, p, n); }, &length);
    if (r == length_framer::result::oversize) {
      tern_error(ctx_,
                 "gate: connection %d (%s) sent a packet of %" PRIu64
                 " bytes, more than the limit of %u: closing it",
                 c->id, c->remote.c_str(), length, frame_.max_packet);
      c->closing = true;
      tern_socket_close(ctx_, c->id);
    }
  }

  void socket(const tern_socket_message* m, size_t text_size) {
    const char* text = reinterpret_cast<const char*>(m + 1);
    switch (m->type) {
      case TERN_SOCKET_TYPE_DATA:
        data(m);
        break;
      case TERN_SOCKET_TYPE_CONNECT:
        if (m->id != listen_id_ && !find(m->id)) {
          tern_error(ctx_, "Close unknown connection %d", m->id);
          tern_socket_close(ctx_, m->id);
        }
        break;
      case TERN_SOCKET_TYPE_CLOSE:
      case TERN_SOCKET_TYPE_ERROR:
        if (m->id == listen_id_) {
          if (m->type == TERN_SOCKET_TYPE_ERROR)
            tern_error(ctx_, "gate: listening socket failed: %.*s", int(text_size), text);
          listen_id_ = -1;
        } else if (conns_.erase(m->id)) {
          // The peer closed (the socket stays half-open until closed: release it
          // once what is queued is written), or an error already closed it.
          if (m->type == TERN_SOCKET_TYPE_CLOSE) tern_socket_close(ctx_, m->id);
          report("%d close", m->id);
        }
        break;
      case TERN_SOCKET_TYPE_ACCEPT: {
        int id = m->ud;
        std::string remote(text, text_size);
        if (conns_.size() >= max_connections_) {
          tern_error(ctx_, "gate: %zu connections already (the maximum): closing %d from %s",
                     conns_.size(), id, remote.c_str());
          tern_socket_close(ctx_, id);
          break;
        }
        connection& c = conns_[id];
        c.id = id;
        c.remote = std::move(remote);
        report("%d open %d %s:0", id, id, c.remote.c_str());
        break;
      }
      case TERN_SOCKET_TYPE_WARNING:
        tern_error(ctx_, "fd (%d) send buffer (%d)K", m->id, m->ud);
        break;
      case TERN_SOCKET_TYPE_UDP:
        tern_free(m->buffer);
        break;
      default:
        break;
    }
  }

  tern_context* ctx_ = nullptr;
  int listen_id_ = -1;
  uint32_t watchdog_ = 0;
  uint32_t broker_ = 0;
  int client_tag_ = TERN_PTYPE_CLIENT;
  framing frame_;
  size_t max_connections_ = 0;
  std::unordered_map<int, connection> conns_;
};

void* gate_create() { return new gate; }
int gate_init(void* inst, tern_context* ctx, const char* args) {
  return static_cast<gate*>(inst)->init(ctx, args);
}
void gate_release(void* inst) { delete static_cast<gate*>(inst); }

[[maybe_unused]] const bool registered =
    (register_builtin_module("gate", gate_create, gate_init, gate_release, nullptr), true);

}  // namespace
}  // namespace tern::net
