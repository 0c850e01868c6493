// Response bytes (see response.hpp).
#include "http/response.hpp"

#include "http/request_parser.hpp"  // iequals

#include <cstdio>
#include <stdexcept>

namespace tern::http {

std::string_view reason_phrase(int status) noexcept {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

std::string_view http_date(std::time_t t) {
  thread_local std::time_t cached_t = -1;
  thread_local char cached[40];
  thread_local std::size_t cached_len = 0;
  if (t != cached_t) {
    std::tm tm{};
    gmtime_r(&t, &tm);
    cached_len = std::strftime(cached, sizeof cached, "%a, %d %b %Y %H:%M:%S GMT", &tm);  // C locale names
    cached_t = t;
  }
  return {cached, cached_len};
}

std::string_view continue_response() noexcept { return "HTTP/1.1 100 Continue\r\n\r\n"; }

std::string error_response(int status, std::string_view detail, clock_fn clock) {
  response r(status);
  r.clock(clock).keep_alive(false).header("Content-Type", "text/plain; charset=utf-8");
  std::string body = std::to_string(status);
  body += ' ';
  body += reason_phrase(status);
  if (!detail.empty()) {
    body += ": ";
    body += detail;
  }
  body += '\n';
  r.send(body);
  return r.take();
}

namespace {

bool bad_char(std::string_view s) noexcept {
  for (char c : s)
    if (c == '\r' || c == '\n' || c == '\0') return true;
  return false;
}

bool bodiless(int status) noexcept { return (status >= 100 && status < 200) || status == 204 || status == 304; }

}  // namespace

response::response(int status, std::string_view reason) { this->status(status, reason); }

response& response::status(int code, std::string_view reason) {
  if (code < 100 || code > 999) throw std::invalid_argument("http status out of range");
  if (bad_char(reason)) throw std::invalid_argument("CR/LF in reason phrase");
  status_ = code;
  reason_ = reason.empty() ? std::string(reason_phrase(code)) : std::string(reason);
  return *this;
}

response& response::header(std::string_view name, std::string_view value) {
  if (name.empty() || bad_char(name) || bad_char(value) || name.find(':') != std::string_view::npos)
    throw std::invalid_argument("invalid http header");
  if (iequals(name, "content-length") || iequals(name, "transfer-encoding")) return *this;
  if (iequals(name, "connection")) {
    if (iequals(value, "close")) keep_alive_ = false;
    return *this;
  }
  if (iequals(name, "date")) has_date_ = true;
  if (iequals(name, "server")) has_server_ = true;
  headers_.append(name);
  headers_.append(": ");
  headers_.append(value);
  headers_.append("\r\n");
  return *this;
}

response& response::keep_alive(bool on) {
  keep_alive_ = on;
  return *this;
}
response& response::http10(bool on) {
  http10_ = on;
  return *this;
}
response& response::head_only(bool on) {
  head_only_ = on;
  return *this;
}
response& response::clock(clock_fn fn) {
  clock_ = fn;
  return *this;
}

void response::head(bool chunked, std::size_t content_length, bool has_length) {
  out_.append(http10_ ? "HTTP/1.0 " : "HTTP/1.1 ");
  out_.append(std::to_string(status_));
  out_.push_back(' ');
  out_.append(reason_);
  out_.append("\r\n");
  if (!has_server_) out_.append("Server: tern\r\n");
  if (!has_date_) {
    out_.append("Date: ");
    out_.append(http_date(clock_ ? clock_() : std::time(nullptr)));
    out_.append("\r\n");
  }
  out_.append(headers_);
  if (chunked) {
    out_.append("Transfer-Encoding: chunked\r\n");
  } else if (has_length) {
    out_.append("Content-Length: ");
    out_.append(std::to_string(content_length));
    out_.append("\r\n");
  }
  if (!keep_alive_)
    out_.append("Connection: close\r\n");
  else if (http10_)
    out_.append("Connection: keep-alive\r\n");
  out_.append("\r\n");
  head_sent_ = true;
}

void response::send(std::string_view body) {
  if (head_sent_) throw std::logic_error("http response head already sent");
  bool no_body = bodiless(status_);
  head(false, body.size(), !no_body);
  if (!no_body && !head_only_) out_.append(body);
  finished_ = true;
}

void response::write(std::string_view chunk) {
  if (finished_) throw std::logic_error("http response already finished");
  if (!head_sent_) {
    chunked_ = !http10_ && !bodiless(status_);
    // HTTP/1.0: no chunked coding; the body ends when the connection closes.
    if (http10_) keep_alive_ = false;
    head(chunked_, 0, false);
  }
  if (chunk.empty() || head_only_ || bodiless(status_)) return;
  if (chunked_) {
    char size[20];
    int n = std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
    out_.append(size, std::size_t(n));
    out_.append(chunk);
    out_.append("\r\n");
  } else {
    out_.append(chunk);
  }
}

void response::end(std::string_view last) {
  if (finished_) throw std::logic_error("http response already finished");
  if (!head_sent_) {
    send(last);
    return;
  }
  write(last);
  if (chunked_ && !head_only_) out_.append("0\r\n\r\n");
  finished_ = true;
}

}  // namespace tern::http
