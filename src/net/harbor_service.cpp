// The built-in "harbor" module: skynet's service_harbor, our own code. It
// carries messages between harbors (nodes) over slave-to-slave TCP links,
// and resolves global names. cslave (service/cslave.lua) launches it with
// "HARBOR_ID SLAVE_HANDLE", makes the links and hands them over.
//
// In: envelopes from the core (message flag kMessageRemote: a send to a handle
// of another harbor, or to a global name), socket events of the links, and
// text commands (PTYPE_HARBOR):
//   "E id"         harbor id exists (the master said so): queue for it until linked
//   "S fd id"      fd is our connection to harbor id: send our hello, wait for its
//   "A fd id"      fd was accepted from harbor id (cslave read its hello): link up
//   "D id"         harbor id is gone (the master said so, or the connect failed)
//   "N name h"     the global name is handle h
//   "R name h"     register a global name (from the core's REG/NAME): goes to cslave
// Out, to cslave (PTYPE_TEXT): "Q name" (who is it?), "D id" (the link is down),
// "R name h".
//
// Failures answer requests: a message for a harbor that is down or unknown,
// for a local service that does not exist, or too large for the wire, gets a
// PTYPE_ERROR reply (with the reason as its text) if it was a request. So do
// requests sent over a link that goes down before their answer came back
// (they are remembered by source and session until then).
//
// Threading: a service like any other; one worker at a time.
#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/context.hpp"
#include "core/node_impl.hpp"
#include "core/remote_envelope.hpp"
#include "net/harbor_wire.hpp"
#include "tern/core/service.hpp"
#include "tern/module_socket.h"

namespace tern::net {
namespace {

namespace wire = harbor_wire;

// Large payloads go to the socket as their own buffer instead of being
// copied into the frame (a copy is cheaper than a write for small ones).
constexpr uint32_t kCopyLimit = 4096;

bool is_request(handle_t source, int32_t session, int type) {
  return session > 0 && type != ptype::response && type != ptype::error && type != ptype::client &&
         source != 0;
}
bool is_request(const message& m) { return is_request(m.source, m.session, m.type); }

uint64_t inflight_key(handle_t source, int32_t session) {
  return uint64_t(source) << 32 | uint32_t(session);
}

std::vector<std::string_view> words(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    size_t start = i;
    while (i < s.size() && s[i] != ' ') ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

bool to_uint(std::string_view s, uint64_t max, uint64_t* out) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v > max) return false;
  *out = v;
  return true;
}

struct envelope_deleter {
  void operator()(remote_envelope* e) const { free_envelope(e); }
};
using envelope_ptr = std::unique_ptr<remote_envelope, envelope_deleter>;

class harbor_service final : public service {
 public:
  ~harbor_service() override {
    if (!context()) return;
    context()->node->detach_harbor(self());
    for (auto& p : peers_)
      if (p.fd >= 0) tern_socket_close(context(), p.fd);
  }

 private:
  enum class state : uint8_t { unknown, expected, handshake, up, down };
  struct peer {
    state st = state::unknown;
    int fd = -1;
    std::deque<envelope_ptr> queue;  // until the link is up
    std::unique_ptr<wire::link_reader> reader;
    bool accepted = false;    // cslave accepted it (and read the peer's hello)
    bool hello_sent = false;  // after the socket thread handed the socket to us
    bool peer_hello = false;  // the peer's hello was read (connected links)
  };
  struct name_entry {
    handle_t handle = 0;
    bool asked = false;
    std::vector<envelope_ptr> queue;  // until the name is known
  };
  struct inflight {
    uint8_t harbor;
    handle_t destination;
  };

  bool init(std::string_view args) override {
    auto w = words(args);
    uint64_t id = 0, slave = 0;
    if (w.size() != 2 || !to_uint(w[0], 255, &id) || id == 0 || !to_uint(w[1], UINT32_MAX, &slave) ||
        slave == 0)
      throw std::runtime_error(fmt::format("harbor: expected \"HARBOR_ID SLAVE\", got \"{}\"", args));
    if ((self() >> kHandleRemoteShift) != id)
      throw std::runtime_error(fmt::format("harbor: id {} is not this node's harbor ({})", id,
                                           self() >> kHandleRemoteShift));
    id_ = uint8_t(id);
    slave_ = handle_t(slave);
    if (!context()->node->attach_harbor(self()))
      throw std::runtime_error("harbor: another harbor service is running");
    return true;
  }

  void on_message(const message& m) override {
    if (m.flags & kMessageRemote) {
      route(envelope_ptr(static_cast<remote_envelope*>(tern_take_message(context()))));
      return;
    }
    switch (m.type) {
      case ptype::socket:
        on_socket(m);
        break;
      case ptype::harbor:
        on_command(m.view());
        break;
      default:
        log(fmt::format("unexpected message type {} from :{:08x}", m.type, m.source));
        if (is_request(m)) reply_error(m);
    }
  }

  // ---- outgoing ----

  void route(envelope_ptr e) {
    if (e->destination == 0) {
      name_entry& n = names_[std::string(e->global_name())];
      if (n.handle == 0) {
        n.queue.push_back(std::move(e));
        if (!n.asked) {
          n.asked = true;
          report(fmt::format("Q {}", n.queue.back()->global_name()));
        }
        return;
      }
      e->destination = n.handle;
    }
    uint8_t id = uint8_t(e->destination >> kHandleRemoteShift);
    if (id == id_) return deliver_local(std::move(e));
    peer& p = peers_[id];
    switch (p.st) {
      case state::up:
        return write(id, p, std::move(e));
      case state::expected:
      case state::handshake:
        p.queue.push_back(std::move(e));
        return;
      case state::unknown:
        return fail(std::move(e), fmt::format("no harbor {}", id));
      case state::down:
        return fail(std::move(e), fmt::format("harbor {} is down", id));
    }
  }

  // A global name that turned out to be ours.
  void deliver_local(envelope_ptr e) {
    message& m = e->msg;
    const handle_t source = m.source;
    const int32_t session = m.session;
    const int type = m.type;
    const size_t size = m.size;
    int rc;
    if (m.is_inline()) {
      rc = tern_send(context(), source, e->destination, type, session, m.payload.bytes, size);
    } else {
      void* data = m.payload.ptr;
      m.payload.ptr = nullptr;
      m.size = 0;  // moved out: the envelope no longer owns it
      rc = tern_send(context(), source, e->destination, type | TERN_PTYPE_TAG_DONTCOPY, session,
                     data, size);
    }
    if (rc < 0 && is_request(source, session, type))
      tern_send(context(), e->destination, source, ptype::error, session, nullptr, 0);
  }

  void write(uint8_t id, peer& p, envelope_ptr e) {
    message& m = e->msg;
    if (m.size > wire::kMaxPayload)
      return fail(std::move(e), fmt::format("message of {} bytes is over the harbor limit ({})",
                                            m.size, wire::kMaxPayload));
    wire::trailer t{m.source, e->destination, m.session, m.type};
    if (is_request(m)) inflight_[inflight_key(m.source, m.session)] = inflight{id, e->destination};
    if (m.size <= kCopyLimit) {
      size_t n = 0;
      char* frame = wire::encode_frame(t, m.data(), m.size, &n);
      tern_socket_send(context(), p.fd, frame, n);
      return;
    }
    // Three buffers in order on the same socket: the payload is not copied.
    auto* prefix = static_cast<char*>(mem_alloc(wire::kPrefixBytes));
    wire::encode_prefix(m.size, prefix);
    auto* tail = static_cast<char*>(mem_alloc(wire::kTrailerBytes));
    wire::encode_trailer(t, tail);
    void* payload = m.payload.ptr;
    size_t size = m.size;
    m.payload.ptr = nullptr;
    m.size = 0;  // moved to the socket
    tern_socket_send(context(), p.fd, prefix, wire::kPrefixBytes);
    tern_socket_send(context(), p.fd, payload, size);
    tern_socket_send(context(), p.fd, tail, wire::kTrailerBytes);
  }

  void fail(envelope_ptr e, const std::string& why) {
    const message& m = e->msg;
    std::string to = e->destination ? fmt::format(":{:08x}", e->destination)
                                    : std::string(e->global_name());
    log(fmt::format("drop message from :{:08x} to {} (type {}, session {}, {} bytes): {}", m.source,
                    to, m.type, m.session, m.size, why));
    if (is_request(m))
      tern_send(context(), e->destination, m.source, ptype::error, m.session,
                const_cast<char*>(why.data()), why.size());
  }

  void report(const std::string& text) {
    tern_send(context(), 0, slave_, ptype::text, 0, const_cast<char*>(text.data()), text.size());
  }

  // ---- commands ----

  void on_command(std::string_view text) {
    auto w = words(text);
    uint64_t a = 0, b = 0;
    char c = w.empty() || w[0].size() != 1 ? '?' : w[0][0];
    if ((c == 'E' || c == 'D') && w.size() == 2 && to_uint(w[1], 255, &a) && a != 0 && a != id_) {
      if (c == 'E') {
        if (peers_[a].st == state::unknown) peers_[a].st = state::expected;
      } else {
        link_down(uint8_t(a), "the master reports it down", false);
      }
      return;
    }
    if ((c == 'S' || c == 'A') && w.size() == 3 && to_uint(w[1], INT32_MAX, &a) &&
        to_uint(w[2], 255, &b) && b != 0 && b != id_) {
      return attach(int(a), uint8_t(b), c == 'S');
    }
    if ((c == 'N' || c == 'R') && w.size() == 3 && w[1].size() <= kMaxGlobalName &&
        to_uint(w[2], UINT32_MAX, &b) && b != 0) {
      if (c == 'R') return report(std::string(text));
      return update_name(w[1], handle_t(b));
    }
    log(fmt::format("invalid harbor command \"{}\"", text));
  }

  void attach(int fd, uint8_t id, bool connected_by_us) {
    peer& p = peers_[id];
    if (p.st == state::up || p.st == state::handshake || p.st == state::down) {
      log(fmt::format("harbor {} is already {}; closing the new link",
                      id, p.st == state::down ? "down" : "linked"));
      tern_socket_close(context(), fd);
      return;
    }
    p.fd = fd;
    by_fd_[fd] = id;
    p.reader = std::make_unique<wire::link_reader>(connected_by_us);
    p.accepted = !connected_by_us;
    p.hello_sent = p.peer_hello = false;
    p.st = state::handshake;
    // Our hello waits for the socket thread's "transfer": the peer answers it
    // at once, and bytes that came before the socket was ours would go to cslave.
    tern_socket_start(context(), fd);
  }

  // The socket is ours now: say hello. An accepted link is then up (cslave
  // has read the peer's hello); ours waits for the peer's.
  void on_transfer(uint8_t id) {
    peer& p = peers_[id];
    if (p.hello_sent || p.st != state::handshake) return;
    p.hello_sent = true;
    auto* hello = static_cast<char*>(mem_alloc(wire::kHelloBytes));
    wire::encode_hello(id_, hello);
    tern_socket_send(context(), p.fd, hello, wire::kHelloBytes);
    if (p.accepted || p.peer_hello) link_up(id, p);
  }

  void link_up(uint8_t id, peer& p) {
    p.st = state::up;
    log(fmt::format("harbor {} linked", id));
    auto queue = std::move(p.queue);
    for (auto& e : queue) route(std::move(e));
  }

  void link_down(uint8_t id, const std::string& why, bool report_it = true) {
    peer& p = peers_[id];
    if (p.st == state::down) return;
    bool was_linked = p.fd >= 0;
    p.st = state::down;
    if (p.fd >= 0) {
      tern_socket_shutdown(context(), p.fd);
      by_fd_.erase(p.fd);
      p.fd = -1;
    }
    p.reader.reset();
    log(fmt::format("harbor {} is down: {}", id, why));
    auto queue = std::move(p.queue);
    for (auto& e : queue) fail(std::move(e), fmt::format("harbor {} is down", id));
    // Requests that crossed the link and were not answered will never be.
    std::string text = fmt::format("harbor {} is down", id);
    for (auto it = inflight_.begin(); it != inflight_.end();) {
      if (it->second.harbor == id) {
        tern_send(context(), it->second.destination, handle_t(it->first >> 32), ptype::error,
                  int32_t(uint32_t(it->first)), text.data(), text.size());
        it = inflight_.erase(it);
      } else {
        ++it;
      }
    }
    if (report_it || was_linked) report(fmt::format("D {}", id));
  }

  void update_name(std::string_view name, handle_t h) {
    name_entry& n = names_[std::string(name)];
    n.handle = h;
    n.asked = false;
    auto queue = std::move(n.queue);
    for (auto& e : queue) route(std::move(e));
  }

  // ---- incoming ----

  void on_socket(const message& m) {
    if (m.size < sizeof(tern_socket_message)) return;
    tern_socket_message sm;
    std::memcpy(&sm, m.data(), sizeof sm);
    auto it = by_fd_.find(sm.id);
    if (sm.type == TERN_SOCKET_TYPE_DATA) {
      if (it == by_fd_.end()) {
        tern_free(sm.buffer);  // a link we already closed
        return;
      }
      return on_data(it->second, sm.buffer, size_t(sm.ud));
    }
    if (it == by_fd_.end()) return;
    uint8_t id = it->second;
    if (sm.type == TERN_SOCKET_TYPE_CLOSE || sm.type == TERN_SOCKET_TYPE_ERROR) {
      peer& p = peers_[id];
      std::string why = sm.type == TERN_SOCKET_TYPE_ERROR
                            ? "link error: " + std::string(static_cast<const char*>(m.data()) + sizeof sm,
                                                           m.size - sizeof sm)
                            : "link closed";
      if (p.reader && !p.reader->idle()) why += " inside a frame (truncated)";
      link_down(id, why);
    } else if (sm.type == TERN_SOCKET_TYPE_CONNECT) {
      on_transfer(id);
    } else if (sm.type == TERN_SOCKET_TYPE_WARNING && sm.ud > 0) {
      log(fmt::format("{} KiB not yet sent to harbor {}", sm.ud, id));
    }
  }

  struct feed_state {
    harbor_service* self;
    uint8_t id;
    std::string error;  // a fatal problem found in a frame
  };

  void on_data(uint8_t id, char* data, size_t size) {
    feed_state fs{this, id, {}};
    wire::link_reader::sink sink{&harbor_service::on_hello, &harbor_service::on_frame, &fs};
    std::string why;
    bool ok = peers_[id].reader->feed(data, size, sink, &why);
    if (!fs.error.empty()) return link_down(id, "protocol error: " + fs.error);
    if (!ok) link_down(id, "protocol error: " + why);
  }

  static bool on_hello(void* user, uint8_t hello_id, std::string* why) {
    auto* fs = static_cast<feed_state*>(user);
    if (hello_id != fs->id) {
      *why = fmt::format("hello from harbor {}, expected harbor {}", hello_id, fs->id);
      return false;
    }
    peer& p = fs->self->peers_[fs->id];
    p.peer_hello = true;
    if (p.st == state::handshake && p.hello_sent) fs->self->link_up(fs->id, p);
    return true;
  }

  // A message from harbor fs->id. Frames after a bad one in the same read are freed.
  static void on_frame(void* user, const wire::trailer& t, char* bytes, uint32_t size) {
    auto* fs = static_cast<feed_state*>(user);
    harbor_service* h = fs->self;
    if (fs->error.empty()) {
      if ((t.destination >> kHandleRemoteShift) != h->id_)
        fs->error = fmt::format("message for :{:08x}, which is not on this harbor", t.destination);
      else if (t.type == ptype::socket || t.type > 0xff)
        fs->error = fmt::format("message of type {}, which cannot cross harbors", t.type);
    }
    if (!fs->error.empty()) {
      mem_free(bytes);
      return;
    }
    if (t.type == ptype::response || t.type == ptype::error)
      h->inflight_.erase(inflight_key(t.destination, t.session));
    int rc = tern_send(h->context(), t.source, t.destination, t.type | TERN_PTYPE_TAG_DONTCOPY,
                       t.session, bytes, size);
    if (rc < 0 && is_request(t.source, t.session, t.type))
      tern_send(h->context(), t.destination, t.source, ptype::error, t.session, nullptr, 0);
  }

  uint8_t id_ = 0;
  handle_t slave_ = 0;
  std::array<peer, 256> peers_;
  std::unordered_map<int, uint8_t> by_fd_;
  std::unordered_map<std::string, name_entry> names_;
  std::unordered_map<uint64_t, inflight> inflight_;
};

}  // namespace
}  // namespace tern::net

TERN_REGISTER_SERVICE(harbor, tern::net::harbor_service)
