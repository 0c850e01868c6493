#include "net/harbor_wire.hpp"

#include <fmt/format.h>

#include <cstring>

namespace tern::net::harbor_wire {
namespace {
constexpr char kMagic[4] = {'T', 'H', 'R', 'B'};

void put32(char* p, uint32_t v) {
  p[0] = char(v >> 24);
  p[1] = char(v >> 16);
  p[2] = char(v >> 8);
  p[3] = char(v);
}
uint32_t get32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return uint32_t(u[0]) << 24 | uint32_t(u[1]) << 16 | uint32_t(u[2]) << 8 | uint32_t(u[3]);
}
}  // namespace

void encode_hello(uint8_t harbor_id, char out[kHelloBytes]) {
  put32(out, 6);
  std::memcpy(out + 4, kMagic, 4);
  out[8] = char(kVersion);
  out[9] = char(harbor_id);
}

bool decode_hello(const char* p, uint8_t* harbor_id, std::string* why) {
  uint32_t length = get32(p);
  if (length != 6 || std::memcmp(p + 4, kMagic, 4) != 0) {
    *why = "bad hello (not a tern harbor link)";
    return false;
  }
  if (uint8_t(p[8]) != kVersion) {
    *why = fmt::format("hello of wire version {}, this node speaks {}", uint8_t(p[8]), kVersion);
    return false;
  }
  if (p[9] == 0) {
    *why = "hello from harbor 0";
    return false;
  }
  *harbor_id = uint8_t(p[9]);
  return true;
}

void encode_prefix(uint32_t payload_size, char out[kPrefixBytes]) {
  put32(out, payload_size + uint32_t(kTrailerBytes));
}

void encode_trailer(const trailer& t, char out[kTrailerBytes]) {
  put32(out, t.source);
  put32(out + 4, t.destination);
  put32(out + 8, uint32_t(t.session));
  out[12] = char(t.type >> 8);
  out[13] = char(t.type);
}

trailer decode_trailer(const char* p) {
  trailer t;
  t.source = get32(p);
  t.destination = get32(p + 4);
  t.session = int32_t(get32(p + 8));
  t.type = uint16_t(uint16_t(uint8_t(p[12])) << 8 | uint8_t(p[13]));
  return t;
}

char* encode_frame(const trailer& t, const void* payload, size_t payload_size, size_t* frame_size) {
  size_t n = kPrefixBytes + payload_size + kTrailerBytes;
  auto* out = static_cast<char*>(mem_alloc(n));
  encode_prefix(uint32_t(payload_size), out);
  if (payload_size) std::memcpy(out + kPrefixBytes, payload, payload_size);
  encode_trailer(t, out + kPrefixBytes + payload_size);
  *frame_size = n;
  return out;
}

bool link_reader::feed(char* data, size_t size, const sink& s, std::string* why) {
  if (hello_have_ < kHelloBytes) {
    size_t take = std::min(size, kHelloBytes - hello_have_);
    std::memcpy(hello_ + hello_have_, data, take);
    hello_have_ += take;
    // Garbage is refused as soon as its first bytes show it: a peer that
    // sends a wrong prefix or magic does not get to wait for the rest.
    static const char kExpect[8] = {0, 0, 0, 6, 'T', 'H', 'R', 'B'};
    if (std::memcmp(hello_, kExpect, std::min(hello_have_, sizeof kExpect)) != 0) {
      mem_free(data);
      *why = "bad hello (not a tern harbor link)";
      return false;
    }
    if (hello_have_ < kHelloBytes) {
      mem_free(data);
      return true;
    }
    uint8_t id = 0;
    if (!decode_hello(hello_, &id, why) || !s.on_hello(s.user, id, why)) {
      mem_free(data);
      return false;
    }
    size -= take;
    if (size == 0) {
      mem_free(data);
      return true;
    }
    std::memmove(data, data + take, size);  // the framer wants the bytes at the buffer's start
  }

  struct ctx_t {
    const sink& s;
    bool failed;
    uint32_t short_size;
  } c{s, false, 0};
  uint64_t bad_length = 0;
  auto emit = [&c](char* bytes, uint32_t n) {
    if (c.failed) {
      mem_free(bytes);
      return;
    }
    if (n < kTrailerBytes) {
      c.failed = true;
      c.short_size = n;
      mem_free(bytes);
      return;
    }
    trailer t = decode_trailer(bytes + n - kTrailerBytes);
    c.s.on_message(c.s.user, t, bytes, n - uint32_t(kTrailerBytes));
  };
  framing f{4, kMaxFrame};
  if (framer_.feed(f, data, size, emit, &bad_length) == length_framer::result::oversize) {
    *why = fmt::format("frame of {} bytes is over the limit ({} bytes)", bad_length, kMaxFrame);
    return false;
  }
  if (c.failed) {
    *why = fmt::format("frame of {} bytes is shorter than its {}-byte trailer", c.short_size,
                       kTrailerBytes);
    return false;
  }
  return true;
}

}  // namespace tern::net::harbor_wire
