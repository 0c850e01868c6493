// tern::cluster::frame_decoder: reads one direction of a cluster link (see
// frame.hpp), checks every frame, and reassembles messages split into frames.
//
// Bytes go in with feed() as they arrive, in any cut; next() hands out the
// complete messages and control frames in order. A message's bytes are one
// buffer from tern::mem_alloc that the caller owns from then on (frees it, or
// passes it on in a runtime message with TAG_DONTCOPY). A message's buffer is
// allocated at its first frame, with the size that frame announces: the limits
// bound what a peer can make us allocate (max_message per message,
// max_partial for all the messages still in progress).
//
// A bad stream (a length out of range, a frame kind this side never receives,
// a continuation for no message, a message over the limit, ...) is final:
// next() returns error from then on and error() says why, for the log; the
// link should be closed.
//
// Threading: none; one decoder per link, used by the service that owns it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "cluster/frame.hpp"

namespace tern::cluster {

// Which end of a link reads: the accepting node (server) receives join, then
// call, send, more; the connecting node (client) receives hello, welcome or
// refuse, then ok, err, more.
enum class role : uint8_t { server, client };

struct limits {
  uint64_t max_message = 64u << 20;   // bytes of one message
  uint64_t max_partial = 128u << 20;  // announced bytes of all messages in progress
};

// What next() produced.
struct decoded {
  kind k = kind::more;
  uint32_t session = 0;
  uint32_t handle = 0;   // call, send: target handle (0 with no name: a name query)
  std::string name;      // call, send: target name, if by name
  char* data = nullptr;  // call, send, ok, err: the message (mem_alloc; null when size 0)
  uint32_t size = 0;
  std::string body;  // hello, join, welcome, refuse: the frame's body
};

class frame_decoder {
 public:
  enum class status { message, need_more, error };

  frame_decoder(role r, limits l);
  ~frame_decoder();
  frame_decoder(const frame_decoder&) = delete;
  frame_decoder& operator=(const frame_decoder&) = delete;

  // Until ready() only the handshake's frames are accepted, after it only
  // messages: a peer cannot make us allocate before it has joined.
  void ready() { ready_ = true; }
  [[nodiscard]] bool is_ready() const { return ready_; }

  void feed(const char* bytes, size_t size);
  // The next complete message or control frame (out is overwritten; a buffer
  // it held before belongs to the caller and is not freed here).
  status next(decoded& out);

  [[nodiscard]] const std::string& error() const { return error_; }
  // Bytes received that are not part of a complete frame yet.
  [[nodiscard]] size_t buffered() const { return in_.size() - pos_; }
  // Messages begun and not complete.
  [[nodiscard]] size_t partial_messages() const { return partial_.size(); }
  // Bytes still missing from the messages in progress.
  [[nodiscard]] uint64_t partial_missing() const;

 private:
  struct partial {
    kind k;
    uint32_t handle;
    std::string name;
    char* data;
    uint32_t total;
    uint32_t have;
  };

  status fail(std::string why);
  // One whole frame (header included) at f; fills out and returns message when
  // a message or control frame is complete, need_more when the frame only
  // began or continued a message.
  status frame(const char* f, uint32_t length, decoded& out);
  status first(kind k, uint32_t session, const char* body, size_t n, decoded& out);
  status more(uint32_t session, const char* body, size_t n, decoded& out);
  [[nodiscard]] bool accepts(kind k) const;

  role role_;
  limits limits_;
  bool ready_ = false;
  std::vector<char> in_;
  size_t pos_ = 0;  // in_[pos_..] is unread
  std::unordered_map<uint32_t, partial> partial_;
  uint64_t partial_announced_ = 0;
  std::string error_;
};

}  // namespace tern::cluster
