// The request parser wrapper around libhttp-parser 2.9 (see request_parser.hpp).
// libhttp-parser streams the request line, header fields/values and body pieces
// to callbacks, pieces of one token possibly split across feeds; the wrapper
// accumulates them into `request`, applies tern's limits and turns the
// library's errors into HTTP status codes.
#include "http/request_parser.hpp"

#include <http_parser.h>

#include <climits>
#include <exception>
#include <utility>

namespace tern::http {

namespace {

char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; }

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

const std::string* header_list::find(std::string_view name) const noexcept {
  for (const auto& h : *this)
    if (iequals(h.name, name)) return &h.value;
  return nullptr;
}

std::string_view header_list::get(std::string_view name) const noexcept {
  const std::string* v = find(name);
  return v ? std::string_view(*v) : std::string_view();
}

bool header_list::has_token(std::string_view name, std::string_view token) const noexcept {
  for (const auto& h : *this) {
    if (!iequals(h.name, name)) continue;
    std::string_view v = h.value;
    while (!v.empty()) {
      std::size_t comma = v.find(',');
      std::string_view item = trim(v.substr(0, comma));
      if (iequals(item, token)) return true;
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
    }
  }
  return false;
}

struct request_parser::impl {
  http_parser parser;
  http_parser_settings settings;
  std::exception_ptr thrown;  // from a user callback, rethrown by feed()
};

// The libhttp-parser callbacks; they return nonzero to stop the parser, except
// on_headers_complete, where 1 and 2 mean "skip the body": it returns -1.
struct impl_access {
  static request_parser& self(http_parser* p) { return *static_cast<request_parser*>(p->data); }

  static int on_message_begin(http_parser* p) {
    request_parser& s = self(p);
    s.cur_ = request{};
    s.header_bytes_ = 0;
    s.header_count_ = 0;
    s.in_field_ = false;
    s.headers_done_ = false;
    s.idle_ = false;
    return 0;
  }

  static int on_url(http_parser* p, const char* at, std::size_t n) {
    request_parser& s = self(p);
    s.header_bytes_ += n;
    if (s.cur_.target.size() + n > s.limits_.max_target_bytes) return s.fail(414, "request-target too long") ? 0 : 1;
    if (s.header_bytes_ > s.limits_.max_header_bytes) return s.fail(431, "header block too large") ? 0 : 1;
    s.cur_.target.append(at, n);
    return 0;
  }

  static int on_header_field(http_parser* p, const char* at, std::size_t n) {
    request_parser& s = self(p);
    header_list& list = s.headers_done_ ? s.cur_.trailers : s.cur_.headers;
    s.header_bytes_ += n;
    if (!s.in_field_) {
      // A new field (the previous callback was not a piece of this name).
      if (++s.header_count_ > s.limits_.max_header_count) return s.fail(431, "too many header fields") ? 0 : 1;
      s.header_bytes_ += 4;  // ": " and CRLF
      list.emplace_back();
    }
    s.in_field_ = true;
    if (s.header_bytes_ > s.limits_.max_header_bytes) return s.fail(431, "header block too large") ? 0 : 1;
    list.back().name.append(at, n);
    return 0;
  }

  static int on_header_value(http_parser* p, const char* at, std::size_t n) {
    request_parser& s = self(p);
    header_list& list = s.headers_done_ ? s.cur_.trailers : s.cur_.headers;
    s.header_bytes_ += n;
    s.in_field_ = false;
    if (s.header_bytes_ > s.limits_.max_header_bytes) return s.fail(431, "header block too large") ? 0 : 1;
    if (list.empty()) return s.fail(400, "header value without a name") ? 0 : 1;
    list.back().value.append(at, n);
    return 0;
  }

  static int on_headers_complete(http_parser* p) {
    request_parser& s = self(p);
    request& r = s.cur_;
    s.headers_done_ = true;
    s.in_field_ = false;
    r.method = http_method_str(static_cast<http_method>(p->method));
    r.version_major = p->http_major;
    r.version_minor = p->http_minor;
    if (r.version_major != 1) return s.fail(505, "HTTP version not supported") ? 0 : -1;
    r.keep_alive = http_should_keep_alive(p) != 0;
    r.chunked = (p->flags & F_CHUNKED) != 0;
    r.upgrade = p->upgrade != 0;
    r.expect_continue = r.version_minor >= 1 && iequals(trim(r.headers.get("expect")), "100-continue");
    if (p->content_length != ULLONG_MAX && p->content_length > 0) {
      if (p->content_length > s.limits_.max_body_bytes) return s.fail(413, "request body too large") ? 0 : -1;
      r.body.reserve(static_cast<std::size_t>(p->content_length));
    }
    if (s.on_headers_) {
      try {
        s.on_headers_(r);
      } catch (...) {
        s.impl_->thrown = std::current_exception();
        return -1;
      }
    }
    return 0;
  }

  static int on_body(http_parser* p, const char* at, std::size_t n) {
    request_parser& s = self(p);
    if (s.cur_.body.size() + n > s.limits_.max_body_bytes) return s.fail(413, "request body too large") ? 0 : 1;
    s.cur_.body.append(at, n);
    return 0;
  }

  static int on_message_complete(http_parser* p) {
    request_parser& s = self(p);
    if (s.failed_) return 1;  // never report a request after an error
    s.idle_ = true;
    if (p->upgrade) s.upgraded_ = true;
    if (s.on_request_) {
      try {
        s.on_request_(s.cur_);
      } catch (...) {
        s.impl_->thrown = std::current_exception();
        return 1;
      }
    }
    return 0;
  }
};

request_parser::request_parser(parser_limits limits) : limits_(limits), impl_(std::make_unique<impl>()) {
  http_parser_settings_init(&impl_->settings);
  impl_->settings.on_message_begin = impl_access::on_message_begin;
  impl_->settings.on_url = impl_access::on_url;
  impl_->settings.on_header_field = impl_access::on_header_field;
  impl_->settings.on_header_value = impl_access::on_header_value;
  impl_->settings.on_headers_complete = impl_access::on_headers_complete;
  impl_->settings.on_body = impl_access::on_body;
  impl_->settings.on_message_complete = impl_access::on_message_complete;
  reset();
}

request_parser::~request_parser() = default;

void request_parser::reset() {
  http_parser_init(&impl_->parser, HTTP_REQUEST);
  impl_->parser.data = this;
  impl_->thrown = nullptr;
  cur_ = request{};
  header_bytes_ = header_count_ = 0;
  in_field_ = headers_done_ = failed_ = upgraded_ = false;
  idle_ = true;
  error_ = parse_error{};
}

bool request_parser::fail(int status, std::string reason) {
  if (!failed_) {
    failed_ = true;
    error_.status = status;
    error_.reason = std::move(reason);
  }
  return false;
}

std::size_t request_parser::feed(const char* data, std::size_t len) {
  // len == 0 would mean EOF to libhttp-parser; an empty feed is a no-op here.
  if (failed_ || upgraded_ || len == 0) return 0;
  std::size_t used = http_parser_execute(&impl_->parser, &impl_->settings, data, len);
  if (impl_->thrown) {
    std::exception_ptr e = std::exchange(impl_->thrown, nullptr);
    fail(500, "exception in a request callback");
    std::rethrow_exception(e);
  }
  if (!failed_) {
    auto err = HTTP_PARSER_ERRNO(&impl_->parser);
    if (err == HPE_HEADER_OVERFLOW)
      fail(431, "header block too large");
    else if (err != HPE_OK)
      fail(400, std::string("malformed request: ") + http_errno_description(err));
  }
  if (failed_) {
    if (on_error_) on_error_(error_);
    return used;
  }
  return used;
}

}  // namespace tern::http
