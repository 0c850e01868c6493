// tern::server protocol: cuts one connection's bytes into the packets that
// on_receive gets, by the port's settings (swoole's open_length_check,
// open_eof_check, open_eof_split, or none: each read is a packet).
//
// Threading: none; one splitter per connection, used by whoever reads it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tern/server/settings.hpp"

namespace tern::server {

class packet_splitter {
 public:
  enum class kind { none, length, eof_check, eof_split };

  // `s` must outlive the splitter (the port's settings).
  void configure(const settings* s);

  // Feeds bytes read from the connection; calls emit(std::string_view) for
  // every complete packet, in order (the view is valid during the call only).
  // False on a protocol error (*why says what): the connection should be
  // closed, nothing more fed.
  template <class F>
  bool feed(const char* data, size_t size, F&& emit, std::string* why);

  [[nodiscard]] size_t buffered() const { return buf_.size(); }

 private:
  bool fail(std::string* why, std::string msg);

  const settings* s_ = nullptr;
  kind kind_ = kind::none;
  std::string buf_;
  size_t scanned_ = 0;  // eof: bytes of buf_ known to hold no complete eof
};

template <class F>
bool packet_splitter::feed(const char* data, size_t size, F&& emit, std::string* why) {
  switch (kind_) {
    case kind::none:
      if (size) emit(std::string_view(data, size));
      return true;

    case kind::length: {
      // Whole packets straight from the read when nothing is kept; else append.
      const char* p = data;
      size_t left = size;
      bool from_buf = !buf_.empty();
      if (from_buf) {
        buf_.append(data, size);
        p = buf_.data();
        left = buf_.size();
      }
      size_t at = 0;
      while (at < left) {
        int64_t n = packet_length(*s_, p + at, left - at);
        if (n < 0) {
          buf_.clear();
          return fail(why, "bad packet length (over package_max_length " +
                               std::to_string(s_->package_max_length) + " or negative)");
        }
        if (n == 0 || uint64_t(n) > left - at) break;
        emit(std::string_view(p + at, size_t(n)));
        at += size_t(n);
      }
      if (from_buf)
        buf_.erase(0, at);
      else if (at < left)
        buf_.assign(p + at, left - at);
      return true;
    }

    case kind::eof_check: {
      // swoole's open_eof_check: whatever was received once it ends with the
      // eof (possibly several packets) is one on_receive.
      const std::string& eof = s_->package_eof;
      if (buf_.empty() && size >= eof.size() &&
          std::string_view(data + size - eof.size(), eof.size()) == eof) {
        emit(std::string_view(data, size));
        return true;
      }
      buf_.append(data, size);
      if (buf_.size() >= eof.size() && std::string_view(buf_).substr(buf_.size() - eof.size()) == eof) {
        std::string whole;
        whole.swap(buf_);
        emit(std::string_view(whole));
        return true;
      }
      if (buf_.size() > s_->package_max_length) {
        buf_.clear();
        return fail(why, "no package_eof within package_max_length (" +
                             std::to_string(s_->package_max_length) + " bytes)");
      }
      return true;
    }

    case kind::eof_split: {
      const std::string& eof = s_->package_eof;
      const char* p = data;
      size_t left = size;
      size_t from = 0;
      bool from_buf = !buf_.empty();
      if (from_buf) {
        buf_.append(data, size);
        p = buf_.data();
        left = buf_.size();
        from = scanned_;
      }
      std::string_view all(p, left);
      size_t at = 0;  // start of the current packet
      for (;;) {
        size_t hit = all.find(eof, std::max(at, from));
        if (hit == std::string_view::npos) break;
        size_t end = hit + eof.size();
        if (end - at > s_->package_max_length) break;  // reported below
        emit(all.substr(at, end - at));
        at = end;
      }
      size_t rest = left - at;
      if (rest > s_->package_max_length) {
        buf_.clear();
        scanned_ = 0;
        return fail(why, "no package_eof within package_max_length (" +
                             std::to_string(s_->package_max_length) + " bytes)");
      }
      if (from_buf)
        buf_.erase(0, at);
      else if (rest)
        buf_.assign(p + at, rest);
      // The last eof.size() - 1 bytes may begin an eof that the next read ends.
      scanned_ = buf_.size() >= eof.size() ? buf_.size() - eof.size() + 1 : 0;
      return true;
    }
  }
  return true;
}

}  // namespace tern::server
