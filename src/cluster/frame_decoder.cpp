#include "cluster/frame_decoder.hpp"

#include <fmt/format.h>

#include <cstring>
#include <new>

#include "tern/core/types.hpp"

namespace tern::cluster {

namespace {

const char* kind_name(kind k) {
  switch (k) {
    case kind::call:
      return "CALL";
    case kind::send:
      return "SEND";
    case kind::ok:
      return "OK";
    case kind::err:
      return "ERR";
    case kind::more:
      return "MORE";
    case kind::hello:
      return "HELLO";
    case kind::join:
      return "JOIN";
    case kind::welcome:
      return "WELCOME";
    case kind::refuse:
      return "REFUSE";
  }
  return "?";
}

bool known(uint8_t k) { return (k >= 0x01 && k <= 0x05) || (k >= 0x10 && k <= 0x13); }

}  // namespace

frame_decoder::frame_decoder(role r, limits l) : role_(r), limits_(l) {}

frame_decoder::~frame_decoder() {
  for (auto& [session, p] : partial_) mem_free(p.data);
}

uint64_t frame_decoder::partial_missing() const {
  uint64_t n = 0;
  for (const auto& [session, p] : partial_) n += p.total - p.have;
  return n;
}

bool frame_decoder::accepts(kind k) const {
  if (role_ == role::server) {
    if (!ready_) return k == kind::join;
    return k == kind::call || k == kind::send || k == kind::more;
  }
  if (!ready_) return k == kind::hello || k == kind::welcome || k == kind::refuse;
  return k == kind::ok || k == kind::err || k == kind::more;
}

frame_decoder::status frame_decoder::fail(std::string why) {
  if (error_.empty()) error_ = std::move(why);
  return status::error;
}

void frame_decoder::feed(const char* bytes, size_t size) {
  if (!error_.empty() || size == 0) return;
  if (pos_ == in_.size()) {
    in_.clear();
    pos_ = 0;
  } else if (pos_ > size_t(64) * 1024 && pos_ * 2 > in_.size()) {
    in_.erase(in_.begin(), in_.begin() + std::ptrdiff_t(pos_));
    pos_ = 0;
  }
  in_.insert(in_.end(), bytes, bytes + size);
}

frame_decoder::status frame_decoder::next(decoded& out) {
  while (error_.empty()) {
    size_t avail = in_.size() - pos_;
    if (avail < kLengthBytes) return status::need_more;
    const char* f = in_.data() + pos_;
    uint32_t length = get_u32(f);
    if (length < 5) return fail(fmt::format("frame length {} is below the minimum of 5", length));
    if (length > 5 + kMaxBody)
      return fail(
          fmt::format("oversized frame: length {} is over the limit of {}", length, 5 + kMaxBody));
    // The kind is checked as soon as it is there: garbage is refused early.
    if (avail >= 5) {
      auto k = uint8_t(f[4]);
      if (!known(k) || !accepts(kind(k)))
        return fail(fmt::format("unexpected frame kind 0x{:02x}", k));
    }
    if (avail < kLengthBytes + length) return status::need_more;
    pos_ += kLengthBytes + length;
    status s;
    try {
      s = frame(f, length, out);
    } catch (const std::bad_alloc&) {
      return fail("out of memory for a message");
    }
    if (s != status::need_more) return s;
  }
  return status::error;
}

frame_decoder::status frame_decoder::frame(const char* f, uint32_t length, decoded& out) {
  auto k = kind(uint8_t(f[4]));
  uint32_t session = get_u32(f + 5);
  const char* body = f + kHeaderBytes;
  size_t n = length - 5;
  switch (k) {
    case kind::call:
    case kind::send:
    case kind::ok:
    case kind::err:
      return first(k, session, body, n, out);
    case kind::more:
      return more(session, body, n, out);
    default:  // control frames: the body as it is
      out = decoded{};
      out.k = k;
      out.session = session;
      out.body.assign(body, n);
      return status::message;
  }
}

frame_decoder::status frame_decoder::first(kind k, uint32_t session, const char* body, size_t n,
                                           decoded& out) {
  const char* end = body + n;
  uint32_t handle = 0;
  std::string name;
  if (k == kind::call || k == kind::send) {
    if (body == end) return fail(fmt::format("{} frame without a target", kind_name(k)));
    uint8_t tag = uint8_t(*body++);
    if (tag == 0) {
      if (end - body < 4) return fail(fmt::format("{} frame with a cut target", kind_name(k)));
      handle = get_u32(body);
      body += 4;
    } else if (tag == 1) {
      if (body == end) return fail(fmt::format("{} frame with a cut target", kind_name(k)));
      size_t len = uint8_t(*body++);
      if (len == 0 || size_t(end - body) < len)
        return fail(fmt::format("{} frame with a bad target name", kind_name(k)));
      name.assign(body, len);
      body += len;
      if (name.find('\0') != std::string::npos)
        return fail(fmt::format("{} frame with a NUL in its target name", kind_name(k)));
    } else {
      return fail(fmt::format("{} frame with an unknown target tag {}", kind_name(k), tag));
    }
  }
  if (end - body < 4) return fail(fmt::format("{} frame without its message size", kind_name(k)));
  uint32_t total = get_u32(body);
  body += 4;
  size_t chunk = size_t(end - body);
  if (total > limits_.max_message)
    return fail(
        fmt::format("message of {} bytes is over the limit of {}", total, limits_.max_message));
  if (chunk > total || chunk > kChunk)
    return fail(
        fmt::format("{} frame carries {} bytes of a {}-byte message", kind_name(k), chunk, total));
  if (partial_.count(session))
    return fail(fmt::format("session {} already has a message in progress", session));
  if (chunk < total) {
    // The first frame of a message in several: the chunk must be full.
    if (chunk != kChunk)
      return fail(fmt::format("{} frame of a split message carries {} bytes, not {}", kind_name(k),
                              chunk, kChunk));
    if (partial_announced_ + total > limits_.max_partial)
      return fail(fmt::format("messages in progress would hold {} bytes, over the limit of {}",
                              partial_announced_ + total, limits_.max_partial));
  }
  char* data = total ? static_cast<char*>(mem_alloc(total)) : nullptr;
  if (chunk) std::memcpy(data, body, chunk);
  if (chunk < total) {
    partial_.emplace(session, partial{k, handle, std::move(name), data, total, uint32_t(chunk)});
    partial_announced_ += total;
    return status::need_more;
  }
  out = decoded{};
  out.k = k;
  out.session = session;
  out.handle = handle;
  out.name = std::move(name);
  out.data = data;
  out.size = total;
  return status::message;
}

frame_decoder::status frame_decoder::more(uint32_t session, const char* body, size_t n,
                                          decoded& out) {
  auto it = partial_.find(session);
  if (it == partial_.end())
    return fail(fmt::format("MORE frame for session {} with no message in progress", session));
  partial& p = it->second;
  uint32_t missing = p.total - p.have;
  if (n > missing)
    return fail(
        fmt::format("MORE frame of {} bytes overflows the message of session {}", n, session));
  if (n != kChunk && n != missing)
    return fail(fmt::format("MORE frame of {} bytes in the middle of a message", n));
  std::memcpy(p.data + p.have, body, n);
  p.have += uint32_t(n);
  if (p.have < p.total) return status::need_more;
  out = decoded{};
  out.k = p.k;
  out.session = session;
  out.handle = p.handle;
  out.name = std::move(p.name);
  out.data = p.data;
  out.size = p.total;
  partial_announced_ -= p.total;
  partial_.erase(it);
  return status::message;
}

}  // namespace tern::cluster
