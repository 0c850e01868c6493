// Basic vocabulary of the tern runtime: handles, message types, messages.
// Thread safety: plain values, no shared state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace tern {

// A service address. The high 8 bits name the node (harbor id), the low 24 bits
// are the local id. 0 is never a valid service.
using handle_t = uint32_t;
inline constexpr int kHandleRemoteShift = 24;
inline constexpr handle_t kHandleMask = 0x00ffffff;

// Message types: the numbers are skynet's PTYPE_* values, so Lua code and wire
// formats written for skynet keep working.
namespace ptype {
inline constexpr int text = 0;
inline constexpr int response = 1;
inline constexpr int multicast = 2;
inline constexpr int client = 3;
inline constexpr int system = 4;
inline constexpr int harbor = 5;
inline constexpr int socket = 6;
inline constexpr int error = 7;
inline constexpr int reserved_queue = 8;
inline constexpr int debug = 9;
inline constexpr int lua = 10;
inline constexpr int snax = 11;
inline constexpr int trace = 12;
// Flags or-ed into the type argument of send():
inline constexpr int tag_dontcopy = 0x10000;      // pass ownership of data, no copy
inline constexpr int tag_allocsession = 0x20000;  // allocate a fresh session
}  // namespace ptype

// One message as it sits in a mailbox. Payloads of up to kInlineBytes bytes are
// stored inside the message itself, so small messages cost no allocation.
// Larger payloads live in a buffer from tern::mem_alloc that the framework
// frees (mem_free) after the receiver's callback returns.
struct message {
  static constexpr size_t kInlineBytes = sizeof(void*);

  handle_t source = 0;
  int32_t session = 0;
  uint32_t size = 0;
  uint16_t type = 0;
  uint16_t flags = 0;  // internal
  union {
    void* ptr;
    char bytes[kInlineBytes];
  } payload{nullptr};

  [[nodiscard]] bool is_inline() const { return size <= kInlineBytes; }
  [[nodiscard]] const void* data() const { return is_inline() ? payload.bytes : payload.ptr; }
  [[nodiscard]] void* data() { return is_inline() ? payload.bytes : payload.ptr; }
  [[nodiscard]] std::string_view view() const {
    return {static_cast<const char*>(data()), size};
  }
};
static_assert(sizeof(message) == 24, "message is meant to stay 24 bytes");

// Payload memory: what a sender allocates and the framework frees.
void* mem_alloc(size_t size);
void mem_free(void* p);

}  // namespace tern
