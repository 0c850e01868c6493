// tern::http::ws: RFC 6455 WebSocket, without I/O.
//
// - Handshake helpers: accept_key() computes Sec-WebSocket-Accept;
//   server_handshake() checks a client's opening handshake headers and returns
//   either the 101 response bytes or an error response (400 / 426).
// - decoder: a push decoder. feed() takes bytes as they arrive (cut anywhere)
//   and calls back for each complete message (text or binary, reassembled
//   across continuation frames) and each control frame (ping / pong / close),
//   which may come between the fragments of a message. It enforces the
//   protocol rules (masking by role, RSV bits, opcodes, control frame rules,
//   fragmentation order, minimal length encoding, size limits, UTF-8 of text
//   messages and close reasons, close codes). On a violation it stops, keeps
//   the close code to send (error()), and refuses further input.
// - encoder / frame(): builds frames with minimal length encoding, masked
//   (client role, key from a caller-supplied source) or not (server role).
//
// Threading: none; one decoder/encoder per connection, used by its owner.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace tern::http::ws {

enum class opcode : uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};

// Who we are: a server receives masked frames and sends unmasked ones; a
// client the reverse.
enum class role : uint8_t { server, client };

// Close status codes (RFC 6455 section 7.4.1).
namespace close_code {
inline constexpr uint16_t normal = 1000;
inline constexpr uint16_t going_away = 1001;
inline constexpr uint16_t protocol_error = 1002;
inline constexpr uint16_t unsupported_data = 1003;
inline constexpr uint16_t no_status = 1005;  // never on the wire: close frame without a code
inline constexpr uint16_t abnormal = 1006;   // never on the wire: connection dropped
inline constexpr uint16_t invalid_payload = 1007;
inline constexpr uint16_t policy_violation = 1008;
inline constexpr uint16_t message_too_big = 1009;
inline constexpr uint16_t mandatory_extension = 1010;
inline constexpr uint16_t internal_error = 1011;
}  // namespace close_code

// Whether a code may appear in a close frame: 1000-1003, 1007-1014 (1012-1014
// registered with IANA after the RFC) and 3000-4999.
bool valid_close_code(uint16_t code);

// Whether bytes are well-formed UTF-8 (no overlongs, no surrogates, nothing
// above U+10FFFF).
bool valid_utf8(std::string_view bytes);

// Incremental UTF-8 validation: bytes may be cut anywhere.
class utf8_validator {
 public:
  // False as soon as the bytes so far cannot begin a valid sequence.
  bool feed(std::string_view bytes);
  // True when no sequence is left open (call at the end of the text).
  bool complete() const { return need_ == 0; }
  void reset() { *this = utf8_validator{}; }

 private:
  uint8_t need_ = 0;               // continuation bytes still expected
  uint8_t lo_ = 0x80, hi_ = 0xBF;  // range of the next continuation byte
};

// --- handshake -----------------------------------------------------------------

// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")).
std::string accept_key(std::string_view sec_websocket_key);

// Whether a Sec-WebSocket-Key value is the base64 encoding of 16 bytes.
bool valid_key(std::string_view key);

// A fresh Sec-WebSocket-Key for a client handshake: 16 random bytes
// (OpenSSL's RAND_bytes) in base64. Throws std::runtime_error if RAND fails.
std::string client_key();

using header = std::pair<std::string_view, std::string_view>;  // name, value

struct handshake_result {
  int status = 0;        // 101 on success, else 400 or 426
  std::string response;  // the response bytes to write (status line, headers, blank line)
  std::string error;     // why it failed (empty on success)
  bool ok() const { return status == 101; }
};

// Checks a client's opening handshake: Upgrade: websocket, Connection holding
// the token Upgrade, Sec-WebSocket-Version: 13 (else 426 with
// Sec-WebSocket-Version: 13), one Sec-WebSocket-Key of 16 base64 bytes.
// Header names and the tokens are case-insensitive; a header may repeat (its
// values are then a comma-separated list, except Sec-WebSocket-Key which must
// appear once). The method (GET) and HTTP version (1.1) are the request
// parser's to check. No subprotocol or extension is negotiated.
handshake_result server_handshake(std::span<const header> headers);

// --- decoder -------------------------------------------------------------------

struct limits {
  uint64_t max_frame = 16u << 20;    // payload bytes of one frame
  uint64_t max_message = 16u << 20;  // payload bytes of one (reassembled) message
};

class decoder {
 public:
  struct callbacks {
    // A complete text or binary message. The view is valid during the call.
    std::function<void(opcode op, std::string_view payload)> on_message;
    // A ping or a pong (payload at most 125 bytes).
    std::function<void(opcode op, std::string_view payload)> on_control;
    // A close frame: its code (close_code::no_status if it had none) and
    // reason. The decoder then takes no more frames (closed()).
    std::function<void(uint16_t code, std::string_view reason)> on_close;
  };

  decoder(role r, callbacks cb, limits lim = {});

  // Decodes bytes. Callbacks must not call back into this decoder. Returns
  // false once a protocol error was met (now or before): error() is then the
  // close code to send, and further input is ignored. Bytes after a close
  // frame are ignored (true is returned).
  bool feed(std::string_view bytes);

  uint16_t error() const { return error_; }               // 0 if none
  std::string_view error_reason() const { return why_; }  // for logs / a close reason
  bool failed() const { return error_ != 0; }
  bool closed() const { return state_ == state::closed; }
  // Whether a frame or a fragmented message is partly received.
  bool idle() const { return state_ == state::head && have_ == 0 && !in_message_; }
  // Payload bytes buffered for the message being reassembled.
  size_t buffered() const { return message_.size(); }

 private:
  enum class state : uint8_t { head, body, failed, closed };

  bool fail(uint16_t code, const char* why);
  bool frame_start();  // after the first two header bytes
  bool header_done();  // after the whole header
  bool frame_done();   // after the whole payload

  role role_;
  callbacks cb_;
  limits lim_;
  state state_ = state::head;
  uint16_t error_ = 0;
  const char* why_ = "";

  // The frame being read.
  uint8_t hdr_[14] = {};
  uint8_t have_ = 0, need_ = 2;  // header bytes
  bool fin_ = false;
  opcode op_ = opcode::continuation;
  bool masked_ = false;
  uint8_t mask_[4] = {};
  uint8_t mask_pos_ = 0;
  uint64_t left_ = 0;  // payload bytes still to come

  // A control frame's payload.
  uint8_t control_[125] = {};
  uint8_t control_len_ = 0;

  // The data message being reassembled.
  bool in_message_ = false;
  opcode message_op_ = opcode::binary;
  std::string message_;
  utf8_validator utf8_;
};

// --- encoder -------------------------------------------------------------------

using mask_key = std::array<uint8_t, 4>;

// A random masking key (OpenSSL's RAND_bytes); throws std::runtime_error if
// RAND fails. The default mask source of a client encoder.
mask_key random_mask();

// Appends one frame to out: FIN as given, RSV 0, minimal length encoding,
// masked with *mask if given.
void append_frame(std::string& out, opcode op, std::string_view payload, bool fin = true,
                  const mask_key* mask = nullptr);
std::string frame(opcode op, std::string_view payload, bool fin = true,
                  const mask_key* mask = nullptr);

// A close frame's payload: the code (big-endian) and the reason, cut to fit
// 125 bytes at a UTF-8 character boundary. No code (0 or no_status): empty.
std::string close_payload(uint16_t code, std::string_view reason = {});

// Frames for one role: a client masks every frame with a key from its mask
// source (by default OpenSSL's RAND_bytes), a server never masks.
class encoder {
 public:
  using mask_source = std::function<mask_key()>;
  explicit encoder(role r, mask_source source = {});

  std::string frame(opcode op, std::string_view payload, bool fin = true) const;
  void append(std::string& out, opcode op, std::string_view payload, bool fin = true) const;
  std::string text(std::string_view s) const { return frame(opcode::text, s); }
  std::string binary(std::string_view s) const { return frame(opcode::binary, s); }
  std::string ping(std::string_view s = {}) const { return frame(opcode::ping, s); }
  std::string pong(std::string_view s = {}) const { return frame(opcode::pong, s); }
  std::string close(uint16_t code, std::string_view reason = {}) const {
    return frame(opcode::close, close_payload(code, reason));
  }

 private:
  role role_;
  mask_source source_;
};

}  // namespace tern::http::ws
