// tern::net::length_framer: cuts one connection's byte stream into packets,
// each prefixed by its length as a 2- or 4-byte big-endian integer (skynet's
// netpack framing, and the 'S'/'L' header styles of its C gate).
//
// Reads arrive as buffers from tern::mem_alloc (a DATA socket message's
// bytes). feed() takes such a buffer over and hands every complete packet out
// as its own mem_alloc buffer, which the receiver then owns (frees, or passes
// on in a message with TAG_DONTCOPY). A packet that ends exactly at the end of
// a read and whose payload came whole in that read reuses the read buffer itself
// (the payload is moved down over the header): the common "one request per
// read" case costs no allocation. Bytes of a packet that spans reads are
// gathered in a buffer that grows as they come, so a peer that announces a
// large packet and sends little does not make us allocate the announced size
// (above 64 KiB).
//
// A length above the configured maximum is a protocol error: feed() stops,
// drops what was gathered, frees the read and reports it; the connection
// should be closed (nothing more should be fed).
//
// Threading: none; one framer per connection, used by whoever owns it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace tern::net {

struct framing {
  uint8_t header_bytes = 2;      // 2 or 4
  uint32_t max_packet = 0xffff;  // the largest length accepted
  // The largest packet a header of this size can describe.
  static constexpr uint32_t limit(uint8_t header_bytes) {
    return header_bytes == 2 ? 0xffffu : 0x7fffffffu;
  }
};

class length_framer {
 public:
  enum class result { ok, oversize };
  // Receives a complete packet: `bytes` (mem_alloc, never null, even for
  // size 0) belongs to the callee from now on.
  using sink = void (*)(void* user, char* bytes, uint32_t size);

  length_framer() = default;
  ~length_framer() { reset(); }
  length_framer(length_framer&& other) noexcept;
  length_framer& operator=(length_framer&& other) noexcept;
  length_framer(const length_framer&) = delete;
  length_framer& operator=(const length_framer&) = delete;

  // Consumes `size` bytes at `data`, a mem_alloc buffer that the framer takes
  // over (also when it throws std::bad_alloc). Calls emit for each complete
  // packet, in order. On oversize, *bad_length (when given) gets the length
  // read; the packets before it were emitted.
  result feed_to(const framing& f, char* data, size_t size, sink emit, void* user,
                 uint64_t* bad_length = nullptr);

  // The same with any callable taking (char* bytes, uint32_t size).
  template <class F>
  result feed(const framing& f, char* data, size_t size, F&& emit, uint64_t* bad_length = nullptr) {
    using fn = std::remove_reference_t<F>;
    return feed_to(
        f, data, size, [](void* u, char* p, uint32_t n) { (*static_cast<fn*>(u))(p, n); },
        const_cast<void*>(static_cast<const void*>(&emit)), bad_length);
  }

  void reset();  // forgets a partial packet (frees its bytes)
  // True when no partial header or packet is kept (the framer holds no memory).
  [[nodiscard]] bool idle() const { return header_have_ == 0 && body_ == nullptr && !in_body_; }
  // Bytes kept of the partial packet: its payload so far once the header is
  // complete, else the header bytes so far.
  [[nodiscard]] size_t pending() const { return in_body_ ? have_ : header_have_; }

 private:
  void grow(uint32_t want);
  void start_body(uint32_t length);

  char* body_ = nullptr;  // the partial packet's bytes so far (mem_alloc)
  uint32_t need_ = 0;     // its length
  uint32_t have_ = 0;     // bytes in body_
  uint32_t cap_ = 0;      // body_'s size
  bool in_body_ = false;  // a header was read; waiting for need_ bytes
  uint8_t header_have_ = 0;
  uint8_t header_[4] = {};
};

}  // namespace tern::net
