// tern::server::http_response: swoole's Http\Response methods (sendfile() is
// in http_static.cpp). A response collects its status and headers until
// end() / write() / sendfile(), which build the bytes and hand them to
// server::send() in one piece (a large body: head and body in two), then
// tell the connection (http_impl::finished) so that the next pipelined
// request runs.
#include <fmt/format.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <ctime>

#include "http/response.hpp"  // http_date, reason_phrase
#include "server/http_body.hpp"
#include "server/http_impl.hpp"

namespace tern::server {

namespace {

bool bad_char(std::string_view s) {
  for (char c : s)
    if (c == '\r' || c == '\n' || c == '\0') return true;
  return false;
}

bool bodiless(int status) { return (status >= 100 && status < 200) || status == 204 || status == 304; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool compressible(std::string_view type) {
  return type.starts_with("text/") || type == "application/json" || type == "application/javascript" ||
         type == "application/xml" || type == "image/svg+xml";
}

// gzip with one deflate state per process, reset between bodies (deflateInit
// allocates some 256 KiB: not per response).
bool gzip(std::string_view in, int level, std::string& out) {
  static z_stream zs;
  static int zs_level = 0;  // 0: not made yet
  if (zs_level != level) {
    if (zs_level != 0) deflateEnd(&zs);
    zs = z_stream{};
    if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {  // +16: gzip wrapper
      zs_level = 0;
      return false;
    }
    zs_level = level;
  } else {
    deflateReset(&zs);
  }
  out.resize(deflateBound(&zs, uLong(in.size())));
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = uInt(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = uInt(out.size());
  if (deflate(&zs, Z_FINISH) != Z_STREAM_END) return false;
  out.resize(zs.total_out);
  return true;
}

void append_chunk(std::string& out, std::string_view chunk) {
  char size[20];
  int n = std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
  out.append(size, size_t(n));
  out.append(chunk);
  out.append("\r\n");
}

// Bodies up to this go out in one send with their head; larger ones in a
// second send (saves copying a large body into the head's string).
constexpr size_t kJoinBody = 64 * 1024;

}  // namespace

// --- state ----------------------------------------------------------------------

http_response::state::~state() { remove_tmp_files(); }

bool http_response::state::writable() const {
  if (ended) return false;
  auto c = conn.lock();
  return c && !c->closing;
}

void http_response::state::remove_tmp_files() {
  for (const std::string& p : tmp_files) ::unlink(p.c_str());  // gone already if the handler moved it
  tmp_files.clear();
}

std::string response_head(const http_response::state& st, int64_t content_length, bool chunked) {
  std::string out;
  out.reserve(160 + st.headers.size() * 40);
  out.append(st.http10 && st.status != 101 ? "HTTP/1.0 " : "HTTP/1.1 ");
  out.append(std::to_string(st.status));
  out.push_back(' ');
  if (st.reason.empty())
    out.append(http::reason_phrase(st.status));
  else
    out.append(st.reason);
  out.append("\r\n");
  if (!st.has_server) out.append("Server: tern\r\n");
  if (!st.has_date) {
    out.append("Date: ");
    out.append(http::http_date(std::time(nullptr)));
    out.append("\r\n");
  }
  for (const auto& [name, value] : st.headers) {
    out.append(name);
    out.append(": ");
    out.append(value);
    out.append("\r\n");
  }
  if (st.status == 101) {  // the handshake's own Connection: Upgrade, no framing
    out.append("Connection: Upgrade\r\n\r\n");
    return out;
  }
  if (chunked) {
    out.append("Transfer-Encoding: chunked\r\n");
  } else if (content_length >= 0 && !bodiless(st.status)) {
    out.append("Content-Length: ");
    out.append(std::to_string(content_length));
    out.append("\r\n");
  }
  if (!st.keep_alive)
    out.append("Connection: close\r\n");
  else if (st.http10)
    out.append("Connection: keep-alive\r\n");
  out.append("\r\n");
  return out;
}

// --- the methods ------------------------------------------------------------------

int http_response::fd() const { return st_ ? st_->fd : 0; }

http_response http_response::hold() const {
  if (st_) st_->held = true;
  return http_response(st_);
}

bool http_response::is_writable() const { return st_ && st_->writable(); }

bool http_response::status(int code, std::string_view reason) {
  if (!st_ || !st_->writable() || st_->streaming) return false;
  if (code < 100 || code > 999 || bad_char(reason)) return false;
  st_->status = code;
  st_->reason = std::string(reason);
  return true;
}

bool http_response::header(std::string_view name, std::string_view value) {
  if (!st_ || !st_->writable() || st_->streaming) return false;
  if (name.empty() || bad_char(name) || bad_char(value) || name.find(':') != std::string_view::npos) return false;
  state& s = *st_;
  const std::string key = lower(name);
  if (key == "content-length" || key == "transfer-encoding") return true;  // the server frames the body
  if (key == "connection") {
    // close: the connection closes after this response; the rest (Upgrade
    // in a 101, keep-alive) is the server's to say.
    for (size_t at = 0; at <= value.size();) {
      size_t comma = value.find(',', at);
      if (http::iequals(trim(value.substr(at, comma - at)), "close")) s.keep_alive = false;
      if (comma == std::string_view::npos) break;
      at = comma + 1;
    }
    return true;
  }
  if (key == "content-type") {
    s.has_content_type = true;
    s.content_type = lower(trim(value.substr(0, value.find(';'))));
  } else if (key == "content-encoding") {
    s.has_encoding = true;
  } else if (key == "date") {
    s.has_date = true;
  } else if (key == "server") {
    s.has_server = true;
  }
  // A header set again replaces the earlier value (swoole keeps one per name).
  for (auto& [n, v] : s.headers)
    if (n.size() == name.size() && http::iequals(n, name)) {
      v.assign(value);
      return true;
    }
  s.headers.emplace_back(std::string(name), std::string(value));
  return true;
}

bool http_response::cookie(std::string_view name, std::string_view value, const cookie_options& opt) {
  if (!st_ || !st_->writable() || st_->streaming) return false;
  if (name.empty() || name.find_first_of("=,; \t\r\n\013\014") != std::string_view::npos) return false;
  if (bad_char(opt.path) || bad_char(opt.domain) || bad_char(opt.samesite) ||
      opt.path.find(';') != std::string::npos || opt.domain.find(';') != std::string::npos ||
      opt.samesite.find(';') != std::string::npos)
    return false;
  std::string c(name);
  c += '=';
  if (value.empty()) {  // swoole's way to delete a cookie
    c += "deleted; expires=";
    c += http::http_date(1);
    c += "; Max-Age=0";
  } else {
    c += http_body::url_encode(value);
    if (opt.expires > 0) {
      c += "; expires=";
      c += http::http_date(std::time_t(opt.expires));
      c += fmt::format("; Max-Age={}", std::max<int64_t>(0, opt.expires - int64_t(std::time(nullptr))));
    }
  }
  if (!opt.path.empty()) c += "; path=" + opt.path;
  if (!opt.domain.empty()) c += "; domain=" + opt.domain;
  if (opt.secure) c += "; secure";
  if (opt.httponly) c += "; httponly";
  if (!opt.samesite.empty()) c += "; samesite=" + opt.samesite;
  st_->headers.emplace_back("Set-Cookie", std::move(c));  // one header per cookie
  return true;
}

bool http_response::write(std::string_view chunk) {
  if (!st_ || !st_->writable() || st_->handshake) return false;
  state& s = *st_;
  std::string out;
  const bool chunked = !s.http10 && !bodiless(s.status);
  if (!s.streaming) {
    s.streaming = true;
    if (s.http10) s.keep_alive = false;  // no chunked coding: the close ends the body
    if (!s.has_content_type && !bodiless(s.status)) header("Content-Type", "text/html");
    out = response_head(s, -1, chunked);
  }
  if (!chunk.empty() && !s.head && !bodiless(s.status)) {
    if (chunked)
      append_chunk(out, chunk);
    else
      out.append(chunk);
  }
  if (out.empty()) return true;
  return s.owner->self->send(s.fd, out);
}

bool http_response::end(std::string_view body) {
  if (!st_ || !st_->writable()) return false;
  state& s = *st_;
  server& srv = *s.owner->self;
  bool ok = true;
  if (s.streaming) {
    std::string out;
    const bool chunked = !s.http10 && !bodiless(s.status);
    if (!body.empty() && !s.head && !bodiless(s.status)) {
      if (chunked)
        append_chunk(out, body);
      else
        out.append(body);
    }
    if (chunked && !s.head) out.append("0\r\n\r\n");
    if (!out.empty()) ok = srv.send(s.fd, out);
  } else {
    const bool no_body = bodiless(s.status);
    if (!no_body && !s.has_content_type) {
      s.headers.emplace_back("Content-Type", "text/html");  // swoole's default
      s.content_type = "text/html";
    }
    std::string zipped;
    const struct settings& cfg = s.owner->cfg();
    if (!no_body && s.accept_gzip && cfg.http_compression && !s.has_encoding &&
        body.size() >= cfg.http_compression_min_length && compressible(s.content_type) &&
        gzip(body, cfg.http_compression_level, zipped)) {
      s.headers.emplace_back("Vary", "Accept-Encoding");
      s.headers.emplace_back("Content-Encoding", "gzip");
      body = zipped;
    }
    std::string out = response_head(s, int64_t(body.size()), false);
    const bool with_body = !no_body && !s.head && !body.empty();
    if (with_body && body.size() <= kJoinBody) {
      out.append(body);
      ok = srv.send(s.fd, out);
    } else {
      ok = srv.send(s.fd, out);
      if (ok && with_body) ok = srv.send(s.fd, body);
    }
  }
  if (!ok) s.keep_alive = false;  // half a response went out: the connection must go
  s.owner->finished(s);
  return ok;
}

bool http_response::redirect(std::string_view url, int code) {
  if (!st_ || !st_->writable() || st_->streaming) return false;
  if (code < 300 || code > 399) code = 302;
  if (!status(code) || !header("Location", url)) return false;
  return end();
}

}  // namespace tern::server
