// tern::cluster frames: the wire format of a link between two cluster nodes
// (docs/cluster.md has the full description).
//
//   frame   := length:u32 kind:u8 session:u32 body      (big-endian)
//   length  := 5 + bytes of body  (5 .. 5 + kMaxBody)
//
// A message (a request, a push or a reply) of any size travels as a first
// frame (CALL, SEND, OK or ERR) carrying the message's total size and up to
// kChunk payload bytes, then MORE frames with the same session carrying the
// rest, kChunk bytes at most each. So the receiver can bound a frame's length
// (a hostile length is refused at once) while messages can be large, and a
// large reply can be interleaved with small ones by frame.
//
// This file writes frames; frame_decoder reads them. Threading: none (pure
// functions and a value type).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tern::cluster {

enum class kind : uint8_t {
  call = 0x01,     // request that wants a reply: target, total, payload
  send = 0x02,     // push: the same, no reply
  ok = 0x03,       // reply: total, payload (the callee's answer)
  err = 0x04,      // reply: total, payload (text: why the call failed)
  more = 0x05,     // continuation of the message in progress with this session
  hello = 0x10,    // server -> client at connect: magic, version, flags, nonce
  join = 0x11,     // client -> server: magic, version, flags, nonce, [mac], name
  welcome = 0x12,  // server -> client: flags, [mac]: the link is ready
  refuse = 0x13,   // server -> client: why the link is refused (then close)
};

inline constexpr size_t kLengthBytes = 4;
inline constexpr size_t kHeaderBytes = 9;      // length, kind, session
inline constexpr uint32_t kChunk = 64 * 1024;  // payload bytes per frame at most
inline constexpr uint32_t kMaxName = 255;      // a target name's bytes at most
// The largest body a valid frame has: a CALL with the longest name and a full chunk.
inline constexpr uint32_t kMaxBody = 1 + 1 + kMaxName + 4 + kChunk;

// Where a CALL or SEND goes on the receiving node: a handle, or a name
// (".local" or "@registered"). Handle 0 with no name is a name query.
struct target {
  uint32_t handle = 0;
  std::string_view name;  // non-empty: by name
};

// Writes the frames of one message. The frames are numbered 0..count()-1 and
// may be written in groups (a buffer per group), in order.
class message_packer {
 public:
  // k: call, send, ok or err. t: the target (call and send only).
  message_packer(kind k, uint32_t session, const target* t, const char* payload, size_t size);

  [[nodiscard]] size_t count() const { return frames_; }
  // Bytes of frames [first, first + n).
  [[nodiscard]] size_t bytes(size_t first, size_t n) const;
  // Writes frames [first, first + n) at out (bytes(first, n) of room); returns the end.
  char* write(char* out, size_t first, size_t n) const;

 private:
  [[nodiscard]] size_t first_extra() const;  // bytes of the first frame's fields before the payload
  [[nodiscard]] size_t chunk_size(size_t i) const;

  kind kind_;
  uint32_t session_;
  target target_;
  const char* payload_;
  size_t size_;
  size_t frames_;
};

// One control frame (hello, join, welcome, refuse) with its body, session 0.
std::string control_frame(kind k, std::string_view body);

// Big-endian helpers shared with the decoder.
inline void put_u32(char* p, uint32_t v) {
  p[0] = char(v >> 24);
  p[1] = char(v >> 16);
  p[2] = char(v >> 8);
  p[3] = char(v);
}
inline uint32_t get_u32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t(u[0]) << 24) | (uint32_t(u[1]) << 16) | (uint32_t(u[2]) << 8) | uint32_t(u[3]);
}

}  // namespace tern::cluster
