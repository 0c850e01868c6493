// The response parser around libhttp-parser 2.9 (see response_parser.hpp).
// Same approach as request_parser.cpp: the library streams the status line,
// header pieces and body pieces to callbacks; we accumulate and apply limits.
// After the response completes the parser pauses itself, so bytes that
// follow (a WebSocket stream after a 101) are left unconsumed.
#include "http/response_parser.hpp"

#include <http_parser.h>

namespace tern::http {

struct response_parser::impl {
  http_parser parser;
  http_parser_settings settings;
};

struct response_access {
  static response_parser& self(http_parser* p) { return *static_cast<response_parser*>(p->data); }

  // Nonzero stops the parser; fail() has recorded why.
  static int over_header_limit(response_parser& s) {
    if (s.header_bytes_ <= s.limits_.max_header_bytes) return 0;
    s.fail("response header block too large");
    return 1;
  }

  static int on_message_begin(http_parser* p) {
    self(p).clear_message();
    return 0;
  }

  static int on_status(http_parser* p, const char*, std::size_t n) {
    response_parser& s = self(p);
    s.header_bytes_ += n;
    return over_header_limit(s);
  }

  static int on_header_field(http_parser* p, const char* at, std::size_t n) {
    response_parser& s = self(p);
    header_list& list = s.head_done_ ? s.trailers_ : s.headers_;
    s.header_bytes_ += n;
    if (!s.in_field_) {
      if (s.headers_.size() + s.trailers_.size() >= s.limits_.max_header_count) {
        s.fail("too many response header fields");
        return 1;
      }
      s.header_bytes_ += 4;  // ": " and CRLF
      list.emplace_back();
    }
    s.in_field_ = true;
    if (over_header_limit(s)) return 1;
    list.back().name.append(at, n);
    return 0;
  }

  static int on_header_value(http_parser* p, const char* at, std::size_t n) {
    response_parser& s = self(p);
    header_list& list = s.head_done_ ? s.trailers_ : s.headers_;
    s.header_bytes_ += n;
    s.in_field_ = false;
    if (over_header_limit(s)) return 1;
    if (list.empty()) {
      s.fail("header value without a name");
      return 1;
    }
    list.back().value.append(at, n);
    return 0;
  }

  static int on_headers_complete(http_parser* p) {
    response_parser& s = self(p);
    s.in_field_ = false;
    s.status_ = int(p->status_code);
    s.major_ = p->http_major;
    s.minor_ = p->http_minor;
    s.keep_alive_ = http_should_keep_alive(p) != 0;
    s.upgrade_ = p->upgrade != 0;
    if (s.status_ < 100) {  // libhttp-parser takes any number
      s.fail("invalid status code");
      return -1;
    }
    // Interim responses are not reported (their headers are dropped when the
    // final response begins) and have no body, whatever their headers say.
    if (s.status_ < 200 && s.status_ != 101) return 1;  // 1: skip the body
    s.head_done_ = true;
    return s.no_body_ ? 1 : 0;
  }

  static int on_body(http_parser* p, const char* at, std::size_t n) {
    response_parser& s = self(p);
    if (n > s.limits_.max_body_bytes - s.body_total_) {
      s.fail("response body too large");
      return 1;
    }
    s.body_total_ += n;
    s.body_.append(at, n);
    return 0;
  }

  static int on_message_complete(http_parser* p) {
    response_parser& s = self(p);
    if (!s.head_done_) return 0;  // an interim 1xx: the real response follows
    s.done_ = true;
    http_parser_pause(p, 1);  // the bytes after this response are not ours
    return 0;
  }
};

response_parser::response_parser(response_limits limits) : limits_(limits), impl_(std::make_unique<impl>()) {
  http_parser_settings_init(&impl_->settings);
  impl_->settings.on_message_begin = response_access::on_message_begin;
  impl_->settings.on_status = response_access::on_status;
  impl_->settings.on_header_field = response_access::on_header_field;
  impl_->settings.on_header_value = response_access::on_header_value;
  impl_->settings.on_headers_complete = response_access::on_headers_complete;
  impl_->settings.on_body = response_access::on_body;
  impl_->settings.on_message_complete = response_access::on_message_complete;
  http_parser_init(&impl_->parser, HTTP_RESPONSE);
  impl_->parser.data = this;
}

response_parser::~response_parser() = default;

void response_parser::clear_message() {
  headers_.clear();
  trailers_.clear();
  header_bytes_ = 0;
  in_field_ = false;
  status_ = 0;
}

void response_parser::fail(std::string why) {
  if (failed_) return;
  failed_ = true;
  error_ = std::move(why);
}

std::size_t response_parser::feed(const char* data, std::size_t len) {
  // len == 0 means EOF to libhttp-parser: finish() says so explicitly.
  if (done_ || failed_ || len == 0) return 0;
  std::size_t used = http_parser_execute(&impl_->parser, &impl_->settings, data, len);
  if (done_) return used;
  auto err = HTTP_PARSER_ERRNO(&impl_->parser);
  if (!failed_ && err != HPE_OK) fail(std::string("malformed response: ") + http_errno_description(err));
  return used;
}

void response_parser::finish() {
  if (done_ || failed_) return;
  if (!head_done_) {
    fail("connection closed before the response head");
    return;
  }
  http_parser_execute(&impl_->parser, &impl_->settings, nullptr, 0);
  if (!done_) fail("connection closed before the end of the response body");
}

}  // namespace tern::http
