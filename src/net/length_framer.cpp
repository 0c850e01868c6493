#include "net/length_framer.hpp"

#include <algorithm>
#include <cstring>

#include "tern/core/types.hpp"

namespace tern::net {

namespace {

// Packets up to this size get their whole buffer when their header arrives;
// larger ones grow as their bytes come.
constexpr uint32_t kWholeBuffer = 64 * 1024;

uint32_t read_length(const uint8_t* p, uint8_t header_bytes) {
  uint32_t v = 0;
  for (uint8_t i = 0; i < header_bytes; ++i) v = (v << 8) | p[i];
  return v;
}

// Frees the read buffer on every way out, unless it was handed on.
struct read_guard {
  char* p;
  ~read_guard() {
    if (p) mem_free(p);
  }
};

}  // namespace

length_framer::length_framer(length_framer&& other) noexcept { *this = std::move(other); }

length_framer& length_framer::operator=(length_framer&& other) noexcept {
  if (this == &other) return *this;
  reset();
  body_ = other.body_;
  need_ = other.need_;
  have_ = other.have_;
  cap_ = other.cap_;
  in_body_ = other.in_body_;
  header_have_ = other.header_have_;
  std::memcpy(header_, other.header_, sizeof header_);
  other.body_ = nullptr;
  other.reset();
  return *this;
}

void length_framer::reset() {
  if (body_) mem_free(body_);
  body_ = nullptr;
  need_ = have_ = cap_ = 0;
  in_body_ = false;
  header_have_ = 0;
}

void length_framer::grow(uint32_t want) {
  if (want <= cap_) return;
  uint64_t c = std::max<uint64_t>({want, uint64_t(cap_) * 2, kWholeBuffer});
  c = std::min<uint64_t>(c, need_);
  auto* p = static_cast<char*>(mem_alloc(size_t(c)));
  if (have_) std::memcpy(p, body_, have_);
  if (body_) mem_free(body_);
  body_ = p;
  cap_ = uint32_t(c);
}

length_framer::result length_framer::feed_to(const framing& f, char* data, size_t size, sink emit,
                                             void* user, uint64_t* bad_length) {
  read_guard guard{data};
  const uint8_t header_bytes = f.header_bytes == 4 ? 4 : 2;
  size_t pos = 0;
  while (pos < size) {
    if (in_body_) {
      // The rest of a packet begun in an earlier read.
      size_t take = std::min<size_t>(need_ - have_, size - pos);
      grow(have_ + uint32_t(take));
      std::memcpy(body_ + have_, data + pos, take);
      have_ += uint32_t(take);
      pos += take;
      if (have_ < need_) break;
      char* packet = body_;
      uint32_t n = need_;
      body_ = nullptr;
      need_ = have_ = cap_ = 0;
      in_body_ = false;
      emit(user, packet, n);
      continue;
    }
    uint32_t length;
    if (header_have_ == 0 && size - pos >= header_bytes) {
      length = read_length(reinterpret_cast<const uint8_t*>(data + pos), header_bytes);
      pos += header_bytes;
    } else {
      size_t take = std::min<size_t>(header_bytes - header_have_, size - pos);
      std::memcpy(header_ + header_have_, data + pos, take);
      header_have_ = uint8_t(header_have_ + take);
      pos += take;
      if (header_have_ < header_bytes) break;
      length = read_length(header_, header_bytes);
      header_have_ = 0;
    }
    if (length > f.max_packet) {
      if (bad_length) *bad_length = length;
      reset();
      return result::oversize;
    }
    size_t avail = size - pos;
    if (avail < length) {
      in_body_ = true;  // the loop gathers what this read has of it
      need_ = length;
      have_ = 0;
      continue;
    }
    if (avail == length) {
      // The read ends with this packet: it takes the read buffer over.
      if (pos) std::memmove(data, data + pos, length);
      guard.p = nullptr;
      emit(user, data, length);
      return result::ok;
    }
    auto* packet = static_cast<char*>(mem_alloc(length));
    std::memcpy(packet, data + pos, length);
    pos += length;
    emit(user, packet, length);
  }
  return result::ok;
}

}  // namespace tern::net
