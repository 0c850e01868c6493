#include "cluster/frame.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace tern::cluster {

message_packer::message_packer(kind k, uint32_t session, const target* t, const char* payload,
                               size_t size)
    : kind_(k),
      session_(session),
      target_(t ? *t : target{}),
      payload_(payload),
      size_(size),
      frames_(size <= kChunk ? 1 : 1 + (size - kChunk + kChunk - 1) / kChunk) {
  assert(k == kind::call || k == kind::send || k == kind::ok || k == kind::err);
  assert(target_.name.size() <= kMaxName);
}

size_t message_packer::first_extra() const {
  size_t n = 4;  // total
  if (kind_ == kind::call || kind_ == kind::send)
    n += target_.name.empty() ? 1 + 4 : 1 + 1 + target_.name.size();
  return n;
}

size_t message_packer::chunk_size(size_t i) const {
  if (i == 0) return std::min<size_t>(size_, kChunk);
  size_t start = kChunk + (i - 1) * size_t(kChunk);
  return std::min<size_t>(size_ - start, kChunk);
}

size_t message_packer::bytes(size_t first, size_t n) const {
  size_t total = 0;
  for (size_t i = first; i < first + n && i < frames_; ++i) {
    total += kHeaderBytes + chunk_size(i);
    if (i == 0) total += first_extra();
  }
  return total;
}

char* message_packer::write(char* out, size_t first, size_t n) const {
  for (size_t i = first; i < first + n && i < frames_; ++i) {
    size_t chunk = chunk_size(i);
    size_t body = chunk + (i == 0 ? first_extra() : 0);
    put_u32(out, uint32_t(5 + body));
    out[4] = char(i == 0 ? kind_ : kind::more);
    put_u32(out + 5, session_);
    out += kHeaderBytes;
    const char* src = payload_;
    if (i == 0) {
      if (kind_ == kind::call || kind_ == kind::send) {
        if (target_.name.empty()) {
          *out++ = 0;
          put_u32(out, target_.handle);
          out += 4;
        } else {
          *out++ = 1;
          *out++ = char(uint8_t(target_.name.size()));
          std::memcpy(out, target_.name.data(), target_.name.size());
          out += target_.name.size();
        }
      }
      put_u32(out, uint32_t(size_));
      out += 4;
    } else {
      src += kChunk + (i - 1) * size_t(kChunk);
    }
    if (chunk) std::memcpy(out, src, chunk);
    out += chunk;
  }
  return out;
}

std::string control_frame(kind k, std::string_view body) {
  std::string f(kHeaderBytes + body.size(), '\0');
  put_u32(f.data(), uint32_t(5 + body.size()));
  f[4] = char(k);
  put_u32(f.data() + 5, 0);
  std::memcpy(f.data() + kHeaderBytes, body.data(), body.size());
  return f;
}

}  // namespace tern::cluster
