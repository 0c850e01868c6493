#include "http/websocket.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace tern::http::ws {

namespace {

constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

bool is_control(uint8_t op) { return (op & 0x8) != 0; }

char lower(char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Whether a comma-separated list holds token (case-insensitive).
bool has_token(std::string_view list, std::string_view token) {
  while (true) {
    size_t comma = list.find(',');
    if (iequals(trim(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) return false;
    list.remove_prefix(comma + 1);
  }
}

bool base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

handshake_result refuse(int status, std::string why) {
  handshake_result r;
  r.status = status;
  r.error = std::move(why);
  if (status == 426) {
    r.response =
        "HTTP/1.1 426 Upgrade Required\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        "Content-Length: 0\r\n"
        "Connection: close\r\n\r\n";
  } else {
    r.response =
        "HTTP/1.1 400 Bad Request\r\n"
        "Content-Length: 0\r\n"
        "Connection: close\r\n\r\n";
  }
  return r;
}

}  // namespace

bool valid_close_code(uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

bool utf8_validator::feed(std::string_view bytes) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  const auto* end = p + bytes.size();
  while (p < end) {
    uint8_t b = *p++;
    if (need_ > 0) {
      if (b < lo_ || b > hi_) return false;
      --need_;
      lo_ = 0x80;
      hi_ = 0xBF;
      continue;
    }
    if (b < 0x80) continue;
    if (b >= 0xC2 && b <= 0xDF) {
      need_ = 1;
    } else if (b == 0xE0) {
      need_ = 2;
      lo_ = 0xA0;  // no overlongs
    } else if (b == 0xED) {
      need_ = 2;
      hi_ = 0x9F;  // no surrogates
    } else if (b >= 0xE1 && b <= 0xEF) {
      need_ = 2;
    } else if (b == 0xF0) {
      need_ = 3;
      lo_ = 0x90;  // no overlongs
    } else if (b >= 0xF1 && b <= 0xF3) {
      need_ = 3;
    } else if (b == 0xF4) {
      need_ = 3;
      hi_ = 0x8F;  // nothing above U+10FFFF
    } else {
      return false;  // continuation byte, 0xC0/0xC1 or 0xF5..0xFF
    }
  }
  return true;
}

bool valid_utf8(std::string_view bytes) {
  utf8_validator v;
  return v.feed(bytes) && v.complete();
}

// --- handshake -----------------------------------------------------------------

std::string accept_key(std::string_view sec_websocket_key) {
  std::string in;
  in.reserve(sec_websocket_key.size() + kGuid.size());
  in.append(sec_websocket_key);
  in.append(kGuid);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(in.data()), in.size(), digest);
  unsigned char out[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
  int n = EVP_EncodeBlock(out, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<const char*>(out), size_t(n));
}

bool valid_key(std::string_view key) {
  // 16 bytes: 22 base64 characters (the last carrying 2 bits, so its low 4
  // bits are zero: one of A Q g w) and "==".
  if (key.size() != 24 || key[22] != '=' || key[23] != '=') return false;
  for (size_t i = 0; i < 22; ++i)
    if (!base64_char(key[i])) return false;
  char last = key[21];
  return last == 'A' || last == 'Q' || last == 'g' || last == 'w';
}

std::string client_key() {
  unsigned char raw[16];
  if (RAND_bytes(raw, int(sizeof raw)) != 1) throw std::runtime_error("RAND_bytes failed");
  unsigned char out[4 * ((sizeof raw + 2) / 3) + 1];
  int n = EVP_EncodeBlock(out, raw, int(sizeof raw));
  return std::string(reinterpret_cast<const char*>(out), size_t(n));
}

handshake_result server_handshake(std::span<const header> headers) {
  bool upgrade = false, connection = false, version_seen = false, version13 = false;
  int keys = 0;
  std::string_view key;
  for (const auto& [name, raw] : headers) {
    std::string_view value = trim(raw);
    if (iequals(name, "Upgrade")) {
      if (has_token(value, "websocket")) upgrade = true;
    } else if (iequals(name, "Connection")) {
      if (has_token(value, "Upgrade")) connection = true;
    } else if (iequals(name, "Sec-WebSocket-Version")) {
      version_seen = true;
      if (has_token(value, "13")) version13 = true;
    } else if (iequals(name, "Sec-WebSocket-Key")) {
      ++keys;
      key = value;
    }
  }
  if (!upgrade) return refuse(400, "no Upgrade: websocket");
  if (!connection) return refuse(400, "no Connection: Upgrade");
  if (!version_seen || !version13) return refuse(426, "Sec-WebSocket-Version is not 13");
  if (keys != 1)
    return refuse(400, keys == 0 ? "no Sec-WebSocket-Key" : "several Sec-WebSocket-Key");
  if (!valid_key(key)) return refuse(400, "Sec-WebSocket-Key is not 16 bytes in base64");
  handshake_result r;
  r.status = 101;
  r.response =
      "HTTP/1.1 101 Switching Protocols\r\n"
      "Upgrade: websocket\r\n"
      "Connection: Upgrade\r\n"
      "Sec-WebSocket-Accept: ";
  r.response += accept_key(key);
  r.response += "\r\n\r\n";
  return r;
}

// --- decoder -------------------------------------------------------------------

decoder::decoder(role r, callbacks cb, limits lim) : role_(r), cb_(std::move(cb)), lim_(lim) {}

bool decoder::fail(uint16_t code, const char* why) {
  state_ = state::failed;
  error_ = code;
  why_ = why;
  message_ = std::string();
  in_message_ = false;
  return false;
}

bool decoder::frame_start() {
  const uint8_t b0 = hdr_[0], b1 = hdr_[1];
  fin_ = (b0 & 0x80) != 0;
  const uint8_t op = b0 & 0x0F;
  masked_ = (b1 & 0x80) != 0;
  const uint8_t len7 = b1 & 0x7F;
  if (b0 & 0x70) return fail(close_code::protocol_error, "RSV bit set without extension");
  if (op != 0x0 && op != 0x1 && op != 0x2 && op != 0x8 && op != 0x9 && op != 0xA)
    return fail(close_code::protocol_error, "unknown opcode");
  op_ = opcode(op);
  if (role_ == role::server && !masked_)
    return fail(close_code::protocol_error, "unmasked frame from a client");
  if (role_ == role::client && masked_)
    return fail(close_code::protocol_error, "masked frame from a server");
  if (is_control(op)) {
    if (!fin_) return fail(close_code::protocol_error, "fragmented control frame");
    if (len7 > 125) return fail(close_code::protocol_error, "control frame over 125 bytes");
  } else if (op_ == opcode::continuation) {
    if (!in_message_) return fail(close_code::protocol_error, "continuation without a message");
  } else if (in_message_) {
    return fail(close_code::protocol_error, "new message inside a fragmented one");
  }
  need_ = uint8_t(2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (masked_ ? 4 : 0));
  return true;
}

bool decoder::header_done() {
  const uint8_t len7 = hdr_[1] & 0x7F;
  uint64_t len = len7;
  size_t pos = 2;
  if (len7 == 126) {
    len = uint64_t(hdr_[2]) << 8 | hdr_[3];
    pos = 4;
    if (len < 126) return fail(close_code::protocol_error, "length not minimally encoded");
  } else if (len7 == 127) {
    len = 0;
    for (size_t i = 0; i < 8; ++i) len = len << 8 | hdr_[2 + i];
    pos = 10;
    if (len >> 63) return fail(close_code::protocol_error, "length with its high bit set");
    if (len <= 0xFFFF) return fail(close_code::protocol_error, "length not minimally encoded");
  }
  if (masked_) std::memcpy(mask_, hdr_ + pos, 4);
  mask_pos_ = 0;
  if (len > lim_.max_frame) return fail(close_code::message_too_big, "frame too big");
  if (!is_control(uint8_t(op_))) {
    const uint64_t had = op_ == opcode::continuation ? message_.size() : 0;
    if (len > lim_.max_message - had)  // had <= max_message: checked as it came
      return fail(close_code::message_too_big, "message too big");
    if (op_ != opcode::continuation) {
      in_message_ = true;
      message_op_ = op_;
      message_.clear();
      utf8_.reset();
    }
  }
  control_len_ = 0;
  left_ = len;
  have_ = 0;
  need_ = 2;
  state_ = state::body;
  if (left_ == 0) return frame_done();
  return true;
}

bool decoder::frame_done() {
  state_ = state::head;
  if (op_ == opcode::ping || op_ == opcode::pong) {
    if (cb_.on_control)
      cb_.on_control(op_, std::string_view(reinterpret_cast<const char*>(control_), control_len_));
    return true;
  }
  if (op_ == opcode::close) {
    uint16_t code = close_code::no_status;
    std::string_view reason;
    if (control_len_ == 1) return fail(close_code::protocol_error, "close payload of 1 byte");
    if (control_len_ >= 2) {
      code = uint16_t(control_[0] << 8 | control_[1]);
      if (!valid_close_code(code)) return fail(close_code::protocol_error, "invalid close code");
      reason = std::string_view(reinterpret_cast<const char*>(control_) + 2, control_len_ - 2u);
      if (!valid_utf8(reason)) return fail(close_code::invalid_payload, "close reason not UTF-8");
    }
    state_ = state::closed;
    message_ = std::string();
    in_message_ = false;
    if (cb_.on_close) cb_.on_close(code, reason);
    return true;
  }
  if (!fin_) return true;
  if (message_op_ == opcode::text && !utf8_.complete())
    return fail(close_code::invalid_payload, "text message not UTF-8");
  in_message_ = false;
  if (cb_.on_message) cb_.on_message(message_op_, message_);
  // Keep a modest buffer for the next message, not the largest one seen.
  if (message_.capacity() > (64u << 10))
    message_ = std::string();
  else
    message_.clear();
  return true;
}

bool decoder::feed(std::string_view bytes) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  const auto* end = p + bytes.size();
  while (p < end) {
    switch (state_) {
      case state::failed:
        return false;
      case state::closed:
        return true;
      case state::head: {
        const size_t n = std::min<size_t>(need_ - have_, size_t(end - p));
        std::memcpy(hdr_ + have_, p, n);
        have_ = uint8_t(have_ + n);
        p += n;
        if (have_ == 2 && need_ == 2) {
          if (!frame_start()) return false;
        }
        if (have_ == need_ && !header_done()) return false;
        break;
      }
      case state::body: {
        const size_t n = size_t(std::min<uint64_t>(left_, uint64_t(end - p)));
        uint8_t* dst;
        if (is_control(uint8_t(op_))) {
          dst = control_ + control_len_;
          control_len_ = uint8_t(control_len_ + n);
        } else {
          const size_t old = message_.size();
          message_.resize(old + n);
          dst = reinterpret_cast<uint8_t*>(message_.data()) + old;
        }
        if (masked_) {
          for (size_t i = 0; i < n; ++i) {
            dst[i] = p[i] ^ mask_[mask_pos_];
            mask_pos_ = (mask_pos_ + 1) & 3;
          }
        } else {
          std::memcpy(dst, p, n);
        }
        if (!is_control(uint8_t(op_)) && message_op_ == opcode::text &&
            !utf8_.feed(std::string_view(reinterpret_cast<const char*>(dst), n)))
          return fail(close_code::invalid_payload, "text message not UTF-8");
        p += n;
        left_ -= n;
        if (left_ == 0 && !frame_done()) return false;
        break;
      }
    }
  }
  return state_ != state::failed;
}

// --- encoder -------------------------------------------------------------------

void append_frame(std::string& out, opcode op, std::string_view payload, bool fin,
                  const mask_key* mask) {
  const uint64_t len = payload.size();
  out.push_back(char((fin ? 0x80 : 0x00) | uint8_t(op)));
  const uint8_t m = mask ? 0x80 : 0x00;
  if (len < 126) {
    out.push_back(char(m | uint8_t(len)));
  } else if (len <= 0xFFFF) {
    out.push_back(char(m | 126));
    out.push_back(char(len >> 8));
    out.push_back(char(len & 0xFF));
  } else {
    out.push_back(char(m | 127));
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(char((len >> shift) & 0xFF));
  }
  if (!mask) {
    out.append(payload);
    return;
  }
  out.append(reinterpret_cast<const char*>(mask->data()), 4);
  const size_t at = out.size();
  out.resize(at + payload.size());
  for (size_t i = 0; i < payload.size(); ++i)
    out[at + i] = char(uint8_t(payload[i]) ^ (*mask)[i & 3]);
}

std::string frame(opcode op, std::string_view payload, bool fin, const mask_key* mask) {
  std::string out;
  out.reserve(payload.size() + 14);
  append_frame(out, op, payload, fin, mask);
  return out;
}

std::string close_payload(uint16_t code, std::string_view reason) {
  if (code == 0 || code == close_code::no_status) return {};
  std::string out;
  out.push_back(char(code >> 8));
  out.push_back(char(code & 0xFF));
  if (reason.size() > 123) {
    size_t n = 123;
    // Do not cut a character: back off over continuation bytes.
    while (n > 0 && (uint8_t(reason[n]) & 0xC0) == 0x80) --n;
    reason = reason.substr(0, n);
  }
  out.append(reason);
  return out;
}

mask_key random_mask() {
  mask_key k{};
  if (RAND_bytes(k.data(), int(k.size())) != 1) throw std::runtime_error("RAND_bytes failed");
  return k;
}

encoder::encoder(role r, mask_source source) : role_(r), source_(std::move(source)) {
  if (role_ == role::client && !source_) source_ = random_mask;
}

void encoder::append(std::string& out, opcode op, std::string_view payload, bool fin) const {
  if (role_ == role::client) {
    const mask_key k = source_();
    append_frame(out, op, payload, fin, &k);
  } else {
    append_frame(out, op, payload, fin, nullptr);
  }
}

std::string encoder::frame(opcode op, std::string_view payload, bool fin) const {
  std::string out;
  out.reserve(payload.size() + 14);
  append(out, op, payload, fin);
  return out;
}

}  // namespace tern::http::ws
