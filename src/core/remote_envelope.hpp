// remote_envelope: how the core hands a message for another harbor (node) to
// the harbor service without copying its bytes.
//
// The core wraps the original message (source, session, type, and its payload,
// inline or heap) in an envelope from mem_alloc and pushes one message to the
// harbor service: same source and session, flags = kMessageRemote, payload =
// the envelope. The flag cannot be set through the public API, so no service
// can make the harbor read forged bytes as an envelope. The harbor service
// takes the envelope (tern_take_message) and owns it and the inner payload
// from then on; an envelope dropped undelivered (the harbor service is gone)
// is freed by the core, and its requester gets an error reply.
//
// Threading: plain data; owned by one service at a time.
#pragma once

#include <cstddef>
#include <cstring>
#include <string_view>

#include "tern/core/types.hpp"

namespace tern {

// message::flags bit: the payload is a remote_envelope.
inline constexpr uint16_t kMessageRemote = 0x1;

// Global names (harbor mode) are at most this long: a name travels in every
// queued envelope, and skynet limits them too (16 there).
inline constexpr size_t kMaxGlobalName = 32;

struct remote_envelope {
  message msg;                  // the original message (payload owned by the envelope)
  handle_t destination = 0;     // 0: addressed by name
  char name[kMaxGlobalName + 1] = {};

  [[nodiscard]] std::string_view global_name() const { return {name, std::strlen(name)}; }
};

// Frees the envelope and the bytes it carries.
inline void free_envelope(remote_envelope* e) {
  if (!e) return;
  if (!e->msg.is_inline()) mem_free(e->msg.payload.ptr);
  e->~remote_envelope();
  mem_free(e);
}

}  // namespace tern
