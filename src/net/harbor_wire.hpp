// harbor_wire: the bytes on a harbor link (slave to slave TCP), documented in
// docs/harbor.md.
//
//   hello:   u32 length = 6 | "THRB" | u8 version (1) | u8 harbor id
//   message: u32 length = n + 14 | payload (n bytes) | source u32 | destination u32
//            | session i32 | type u16
//
// Integers are big-endian. The trailer sits after the payload so that the
// receiver can hand the frame's buffer to the destination as it is (the
// payload starts the buffer): a message costs one copy into the frame on the
// sending side (none for large payloads, sent as three buffers) and none on
// the receiving side.
//
// Threading: none; a link_reader belongs to the service that owns the link.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "net/length_framer.hpp"
#include "tern/core/types.hpp"

namespace tern::net::harbor_wire {

inline constexpr uint8_t kVersion = 1;
inline constexpr size_t kHelloBytes = 10;  // with its length prefix
inline constexpr size_t kPrefixBytes = 4;
inline constexpr size_t kTrailerBytes = 14;
inline constexpr uint32_t kMaxPayload = 16u << 20;  // 16 MiB, larger messages are refused
inline constexpr uint32_t kMaxFrame = kMaxPayload + kTrailerBytes;

struct trailer {
  handle_t source = 0;
  handle_t destination = 0;
  int32_t session = 0;
  uint16_t type = 0;
};

void encode_hello(uint8_t harbor_id, char out[kHelloBytes]);
// A whole hello (kHelloBytes, prefix included): the sender's harbor id, or
// false and why.
bool decode_hello(const char* p, uint8_t* harbor_id, std::string* why);

void encode_prefix(uint32_t payload_size, char out[kPrefixBytes]);
void encode_trailer(const trailer& t, char out[kTrailerBytes]);
trailer decode_trailer(const char* p);  // kTrailerBytes at p

// A complete message frame in one buffer from mem_alloc (*frame_size bytes).
// payload_size must be at most kMaxPayload.
char* encode_frame(const trailer& t, const void* payload, size_t payload_size, size_t* frame_size);

// Cuts one link's bytes into its hello (when expected) and messages. Any
// violation (a bad hello, a frame longer than kMaxFrame or shorter than its
// trailer) makes feed() fail with a reason; the link must then be closed and
// nothing more fed.
class link_reader {
 public:
  // expect_hello: the peer's hello comes first (the connecting side; the
  // accepting side's hello is read by cslave before the link is handed over).
  explicit link_reader(bool expect_hello) : hello_have_(expect_hello ? 0 : kHelloBytes) {}

  // What feed() reports, in stream order. on_hello gets the peer's harbor id
  // and returns false (with a reason) to refuse it. on_message's `bytes`
  // (mem_alloc) start with the payload and now belong to the callee.
  struct sink {
    bool (*on_hello)(void* user, uint8_t harbor_id, std::string* why);
    void (*on_message)(void* user, const trailer& t, char* bytes, uint32_t payload_size);
    void* user;
  };

  // Takes over `data` (a mem_alloc buffer of `size` bytes). False: the link
  // broke the protocol (or on_hello refused it), *why says how.
  bool feed(char* data, size_t size, const sink& s, std::string* why);

  // No partial hello or frame kept: a close now loses nothing.
  [[nodiscard]] bool idle() const {
    return (hello_have_ == 0 || hello_have_ == kHelloBytes) && framer_.idle();
  }

 private:
  length_framer framer_;
  char hello_[kHelloBytes] = {};
  size_t hello_have_;
};

}  // namespace tern::net::harbor_wire
