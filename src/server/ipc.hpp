// tern::server IPC between the master and a worker (PROCESS mode): frames on
// one unix SOCK_STREAM socketpair per worker. docs/server.md has the rules.
//
// A frame is a 16-byte header (host byte order: both ends are on this host)
// and `len` payload bytes. No frame is longer than kMaxFrame (32 KiB): a
// longer payload (a packet, a send()) is cut into several frames for the same
// fd, marked kFirst on the first and kLast on the last. Short frames matter:
//  - a frame this short goes into a unix stream socket in one piece (Linux
//    queues it as one buffer: all of it or, non-blocking, nothing), so a
//    writer killed at any moment never leaves half a frame behind, and
//  - a worker takes only whole frames out of its socket (it peeks, then reads
//    exactly the complete frames it saw), so bytes a killed worker had not
//    taken stay for its replacement, which starts at a frame boundary. A
//    replacement that meets the middle of a cut payload (the rest of what its
//    predecessor died reading) drops it up to the kLast frame.
//
// Threading: plain functions and values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace tern::server::ipc {

struct header {
  uint32_t len = 0;      // payload bytes after the header
  uint8_t type = 0;      // a `type`
  uint8_t flags = 0;     // kFirst / kLast
  uint16_t reactor = 0;  // master -> worker: the reactor thread of the connection
  int32_t fd = 0;        // the connection (session id)
  uint32_t arg = 0;      // queries and replies: the request id
};
static_assert(sizeof(header) == 16, "the frame header is 16 bytes");

inline constexpr size_t kMaxFrame = 32768;
inline constexpr size_t kMaxChunk = kMaxFrame - sizeof(header);
inline constexpr uint8_t kFirst = 1, kLast = 2, kWhole = kFirst | kLast;

// Cuts payload into frames of at most kMaxChunk bytes and calls
// emit(header, chunk) for each, in order; false as soon as emit returns false.
template <class Emit>
bool for_each_frame(uint8_t type, int fd, uint16_t reactor, uint32_t arg, std::string_view payload,
                    Emit&& emit) {
  size_t off = 0;
  bool first = true;
  do {
    size_t n = payload.size() - off < kMaxChunk ? payload.size() - off : kMaxChunk;
    header h;
    h.len = uint32_t(n);
    h.type = type;
    h.flags = uint8_t((first ? kFirst : 0) | (off + n == payload.size() ? kLast : 0));
    h.reactor = reactor;
    h.fd = fd;
    h.arg = arg;
    if (!emit(h, payload.substr(off, n))) return false;
    off += n;
    first = false;
  } while (off < payload.size());
  return true;
}

// Appends one frame (header and chunk) to out.
inline void append_frame(std::string& out, const header& h, std::string_view chunk) {
  out.append(reinterpret_cast<const char*>(&h), sizeof h);
  out.append(chunk);
}

enum type : uint8_t {
  // master -> worker
  ev_connect = 1,  // payload: wire_peer + the remote ip
  ev_receive = 2,
  ev_close = 3,
  ev_buffer_full = 4,
  ev_buffer_empty = 5,
  ev_reply = 6,  // arg: the request id; payload: the answer
  ev_packet = 15,  // a UDP datagram: fd -(listener + 1), payload: wire_packet + ip + data (server_io.cpp)
  // worker -> master. One-way:
  cmd_send = 16,     // payload: bytes for the client; arg 1: sendfile()'s, not held to socket_buffer_size
  cmd_close = 17,    // payload: 1 byte, 1 = reset (close now, drop unsent bytes)
  cmd_pause = 18,
  cmd_resume = 19,
  // Queries (answered by ev_reply with the same arg):
  cmd_exists = 32,     // reply: 1 byte
  cmd_info = 33,       // reply: wire_info + the ip, or empty if no such connection
  cmd_list = 34,       // payload: int32 start, int32 count; reply: int32 fds
  cmd_bind = 35,       // payload: uint32 uid; reply: 1 byte
  cmd_heartbeat = 36,  // payload: 1 byte close_idle; reply: 1 byte
};

// client_info on the wire (followed by the remote ip's bytes).
struct wire_info {
  int32_t server_port, server_fd, socket_fd, reactor_id, remote_port;
  uint32_t uid;
  int64_t connect_time, last_time, last_recv_time, last_send_time;
  uint64_t recv_bytes, send_bytes;
};

// ev_connect's payload (followed by the remote ip's bytes): who connected,
// for a protocol layer in the worker (http_server's remote_addr, ...).
struct wire_peer {
  int32_t port_index, remote_port, server_port, reserved;
};

inline bool is_query(uint8_t t) { return t >= cmd_exists; }

// Cuts a byte stream into frames. feed() calls on_frame(const header&,
// std::string_view payload) for each complete frame; what remains is kept.
class stream_parser {
 public:
  // False if the stream is corrupt (a frame longer than kMaxFrame): the
  // parser drops what it holds and the caller should give up on the stream.
  template <class F>
  bool feed(const char* data, size_t size, F&& on_frame) {
    if (buf_.empty()) {
      size_t used = parse(data, size, on_frame);
      if (used == kCorrupt) return false;
      if (used < size) buf_.assign(data + used, size - used);
      return true;
    }
    buf_.append(data, size);
    size_t used = parse(buf_.data(), buf_.size(), on_frame);
    if (used == kCorrupt) {
      buf_.clear();
      return false;
    }
    buf_.erase(0, used);
    return true;
  }

  // Bytes [data, data + size) that form complete frames, from the start.
  static size_t complete(const char* data, size_t size) {
    size_t at = 0;
    while (size - at >= sizeof(header)) {
      header h;
      std::memcpy(&h, data + at, sizeof h);
      if (sizeof h + h.len > size - at) break;
      at += sizeof h + h.len;
    }
    return at;
  }

 private:
  static constexpr size_t kCorrupt = ~size_t(0);

  template <class F>
  static size_t parse(const char* data, size_t size, F& on_frame) {
    size_t at = 0;
    while (size - at >= sizeof(header)) {
      header h;
      std::memcpy(&h, data + at, sizeof h);
      if (h.len > kMaxChunk) return kCorrupt;
      if (sizeof h + h.len > size - at) break;
      on_frame(h, std::string_view(data + at + sizeof h, h.len));
      at += sizeof h + h.len;
    }
    return at;
  }

  std::string buf_;
};

}  // namespace tern::server::ipc
