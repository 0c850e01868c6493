// tern::server HTTP files: http_response::sendfile(), the static handler,
// MIME types, Range and If-Modified-Since (see http_static.hpp).
#include "server/http_static.hpp"

#include <fmt/format.h>
#include <sys/stat.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "http/request_parser.hpp"  // iequals
#include "http/response.hpp"        // http_date
#include "server/http_body.hpp"
#include "server/http_impl.hpp"

namespace tern::server {

namespace http_static {

namespace {

struct mime_entry {
  std::string_view ext;
  std::string_view type;
};

// Common types (lower-case extensions); the rest are octet streams.
constexpr mime_entry kMime[] = {
    {"html", "text/html"},
    {"htm", "text/html"},
    {"css", "text/css"},
    {"js", "application/javascript"},
    {"mjs", "application/javascript"},
    {"json", "application/json"},
    {"xml", "application/xml"},
    {"txt", "text/plain"},
    {"csv", "text/csv"},
    {"md", "text/markdown"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"ico", "image/x-icon"},
    {"bmp", "image/bmp"},
    {"avif", "image/avif"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"ttf", "font/ttf"},
    {"otf", "font/otf"},
    {"mp3", "audio/mpeg"},
    {"ogg", "audio/ogg"},
    {"wav", "audio/wav"},
    {"mp4", "video/mp4"},
    {"webm", "video/webm"},
    {"pdf", "application/pdf"},
    {"zip", "application/zip"},
    {"gz", "application/gzip"},
    {"tar", "application/x-tar"},
    {"wasm", "application/wasm"},
    {"bin", "application/octet-stream"},
};

int64_t parse_int(std::string_view s) {  // digits only; -1 if none or too long
  if (s.empty() || s.size() > 18) return -1;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string_view mime_type(std::string_view path) {
  size_t slash = path.rfind('/');
  size_t dot = path.rfind('.');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash))
    return "application/octet-stream";
  std::string_view ext = path.substr(dot + 1);
  for (const auto& m : kMime)
    if (http::iequals(m.ext, ext)) return m.type;
  return "application/octet-stream";
}

byte_range parse_range(std::string_view header, int64_t size) {
  byte_range r;
  header = trim(header);
  if (header.size() < 6 || !http::iequals(header.substr(0, 6), "bytes=")) return r;
  std::string_view spec = trim(header.substr(6));
  if (spec.find(',') != std::string_view::npos) return r;  // several ranges: the whole file
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return r;
  std::string_view a = trim(spec.substr(0, dash)), b = trim(spec.substr(dash + 1));
  if (a.empty()) {  // the last n bytes
    int64_t n = parse_int(b);
    if (n < 0) return r;
    if (n == 0 || size == 0) {
      r.what = byte_range::unsatisfiable;
      return r;
    }
    r.first = n >= size ? 0 : size - n;
    r.last = size - 1;
    r.what = byte_range::ok;
    return r;
  }
  int64_t first = parse_int(a);
  int64_t last = b.empty() ? size - 1 : parse_int(b);
  if (first < 0 || last < 0 || (!b.empty() && last < first)) return r;
  if (first >= size) {
    r.what = byte_range::unsatisfiable;
    return r;
  }
  r.first = first;
  r.last = std::min(last, size - 1);
  r.what = byte_range::ok;
  return r;
}

std::time_t parse_http_date(std::string_view s) {
  std::string text(trim(s));
  static const char* const kFormats[] = {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT",
                                         "%a %b %e %H:%M:%S %Y"};
  for (const char* f : kFormats) {
    std::tm tm{};
    const char* end = strptime(text.c_str(), f, &tm);
    if (end && *end == '\0') return timegm(&tm);
  }
  return -1;
}

resolved resolve(const std::string& root, std::string_view request_path) {
  resolved out;
  std::string path = http_body::url_decode(request_path, false);
  if (path.empty() || path[0] != '/' || path.find('\0') != std::string::npos) {
    out.what = resolved::forbidden;
    return out;
  }
  // No ".." segment, before any resolution.
  for (size_t at = 0; at < path.size();) {
    size_t end = path.find('/', at + 1);
    std::string_view seg = std::string_view(path).substr(at + 1, end == std::string::npos ? std::string::npos
                                                                                           : end - at - 1);
    if (seg == "..") {
      out.what = resolved::forbidden;
      return out;
    }
    if (end == std::string::npos) break;
    at = end;
  }
  std::string full = root + path;
  char real[PATH_MAX];
  if (!realpath(full.c_str(), real)) return out;  // not found
  std::string_view r(real);
  if (!(r == root || (r.size() > root.size() && r.substr(0, root.size()) == root && r[root.size()] == '/'))) {
    out.what = resolved::forbidden;  // a symlink out of the root
    return out;
  }
  struct stat st {};
  if (stat(real, &st) != 0 || !S_ISREG(st.st_mode)) return out;
  out.what = resolved::file;
  out.path = real;
  return out;
}

}  // namespace http_static

bool http_server::http_impl::serve_static(http_request& req, http_response& resp) {
  if (doc_root.empty()) return false;
  std::string_view m = req.method();
  if (m != "GET" && m != "HEAD") return false;
  http_static::resolved r = http_static::resolve(doc_root, req.path());
  if (r.what == http_static::resolved::not_found) return false;  // on_request's
  if (r.what == http_static::resolved::forbidden) {
    resp.status(403);
    resp.header("Content-Type", "text/plain");
    resp.end("403 Forbidden\n");
    return true;
  }
  resp.sendfile(r.path);
  return true;
}

bool http_response::sendfile(const std::string& path, int64_t offset, int64_t length) {
  if (!st_ || !st_->writable() || st_->streaming || offset < 0 || length < 0) return false;
  state& s = *st_;
  struct stat sb {};
  if (::stat(path.c_str(), &sb) != 0 || !S_ISREG(sb.st_mode)) {
    const char* why = S_ISREG(sb.st_mode) || sb.st_mode == 0 ? std::strerror(errno) : "not a regular file";
    s.owner->log(log_level::info, fmt::format("sendfile {}: {}", path, why));
    status(404);
    header("Content-Type", "text/plain");
    end("404 Not Found\n");
    return false;
  }
  const int64_t size = sb.st_size;
  if (!s.has_content_type) header("Content-Type", http_static::mime_type(path));
  header("Last-Modified", http::http_date(sb.st_mtime));
  int64_t first = 0, count = size;
  if (offset > 0 || length > 0) {  // a part chosen by the handler
    if (offset > size) offset = size;
    first = offset;
    count = length > 0 ? std::min(length, size - offset) : size - offset;
  } else {
    if (!s.if_modified_since.empty() && s.status == 200) {
      std::time_t since = http_static::parse_http_date(s.if_modified_since);
      if (since >= 0 && sb.st_mtime <= since) {
        status(304);
        return end();
      }
    }
    if (!s.range.empty() && s.status == 200) {
      http_static::byte_range r = http_static::parse_range(s.range, size);
      if (r.what == http_static::byte_range::unsatisfiable) {
        status(416);
        header("Content-Range", fmt::format("bytes */{}", size));
        s.content_type.clear();  // no gzip, no type for the empty body
        return end();
      }
      if (r.what == http_static::byte_range::ok) {
        status(206);
        header("Content-Range", fmt::format("bytes {}-{}/{}", r.first, r.last, size));
        first = r.first;
        count = r.last - r.first + 1;
      }
    }
    header("Accept-Ranges", "bytes");
  }
  std::string head = response_head(s, count, false);
  server& srv = *s.owner->self;
  bool ok = srv.send(s.fd, head);
  if (ok && !s.head && count > 0) ok = srv.sendfile(s.fd, path, first, count);
  if (!ok) s.keep_alive = false;  // the response is broken: the connection must go
  s.owner->finished(s);
  return ok;
}

}  // namespace tern::server
