// tern::server HTTP request bodies and fields (see http_body.hpp).
#include "server/http_body.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "http/request_parser.hpp"  // iequals

namespace tern::server::http_body {

namespace {

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string_view unquote(std::string_view s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') return s.substr(1, s.size() - 2);
  return s;
}

// Calls fn(name, value) for each "name=value" separated by sep.
template <class F>
void for_each_pair(std::string_view s, char sep, F&& fn) {
  while (!s.empty()) {
    size_t end = s.find(sep);
    std::string_view item = s.substr(0, end);
    if (!item.empty()) {
      size_t eq = item.find('=');
      if (eq == std::string_view::npos)
        fn(item, std::string_view());
      else
        fn(item.substr(0, eq), item.substr(eq + 1));
    }
    if (end == std::string_view::npos) break;
    s.remove_prefix(end + 1);
  }
}

// Writes one uploaded part to a fresh temporary file.
bool write_upload(const multipart_limits& lim, std::string_view content, std::string* path) {
  std::string tmpl = lim.tmp_dir;
  if (tmpl.empty() || tmpl.back() != '/') tmpl += '/';
  tmpl += "swoole.upfile.XXXXXX";
  int fd = mkstemp(tmpl.data());
  if (fd < 0) return false;
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      ::unlink(tmpl.c_str());
      return false;
    }
    off += size_t(n);
  }
  ::close(fd);
  *path = std::move(tmpl);
  return true;
}

}  // namespace

std::string url_decode(std::string_view s, bool plus_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%' && i + 2 < s.size()) {
      int h = hex(s[i + 1]), l = hex(s[i + 2]);
      if (h >= 0 && l >= 0) {
        out.push_back(char(h * 16 + l));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_space && c == '+' ? ' ' : c);
  }
  return out;
}

std::string url_encode(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out.push_back(char(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

void parse_query(std::string_view q, std::map<std::string, std::string>& out) {
  for_each_pair(q, '&', [&](std::string_view name, std::string_view value) {
    if (name.empty()) return;
    out.insert_or_assign(url_decode(name, true), url_decode(value, true));
  });
}

void parse_cookies(std::string_view header, std::map<std::string, std::string>& out) {
  for_each_pair(header, ';', [&](std::string_view name, std::string_view value) {
    name = trim(name);
    if (name.empty()) return;
    // The first of a repeated name wins: it is the most specific path (RFC 6265 5.4).
    out.try_emplace(std::string(name), url_decode(unquote(trim(value)), false));
  });
}

namespace {

// The parameter `name` of a header value, if present. Quoted values may hold
// ';' (a file name): the split honours quotes.
bool find_param(std::string_view value, std::string_view name, std::string* out) {
  size_t i = value.find(';');
  while (i != std::string_view::npos && i < value.size()) {
    ++i;
    size_t eq = value.find('=', i);
    size_t semi = value.find(';', i);
    if (eq == std::string_view::npos || (semi != std::string_view::npos && semi < eq)) {
      i = semi;
      continue;
    }
    std::string_view key = trim(value.substr(i, eq - i));
    size_t v = eq + 1;
    while (v < value.size() && (value[v] == ' ' || value[v] == '\t')) ++v;
    size_t end;
    std::string val;
    if (v < value.size() && value[v] == '"') {
      end = v + 1;
      while (end < value.size() && value[end] != '"') {
        if (value[end] == '\\' && end + 1 < value.size()) ++end;
        val.push_back(value[end]);
        ++end;
      }
      end = value.find(';', end);
    } else {
      end = value.find(';', v);
      val = std::string(trim(value.substr(v, end == std::string_view::npos ? std::string_view::npos : end - v)));
    }
    if (http::iequals(key, name)) {
      if (out) *out = std::move(val);
      return true;
    }
    i = end;
  }
  return false;
}

bool has_param(std::string_view value, std::string_view name) { return find_param(value, name, nullptr); }

}  // namespace

std::string header_param(std::string_view value, std::string_view name) {
  std::string found;
  find_param(value, name, &found);
  return found;
}

bool parse_multipart(std::string_view body, std::string_view boundary, const multipart_limits& lim,
                     std::map<std::string, std::string>& post, std::map<std::string, uploaded_file>& files,
                     std::vector<std::string>& tmp_paths) {
  if (boundary.empty() || boundary.size() > 200) return false;
  std::string delim = "--";
  delim += boundary;
  // The first delimiter may start the body or follow a preamble line.
  size_t at = body.find(delim);
  if (at == std::string_view::npos) return false;
  for (;;) {
    at += delim.size();
    if (body.substr(at, 2) == "--") return true;  // the close delimiter
    if (body.substr(at, 2) != "\r\n") return false;
    at += 2;
    size_t head_end = body.find("\r\n\r\n", at);
    if (head_end == std::string_view::npos) return false;
    std::string_view head = body.substr(at, head_end - at);
    size_t content_at = head_end + 4;
    std::string next = "\r\n" + delim;
    size_t content_end = body.find(next, content_at);
    if (content_end == std::string_view::npos) return false;
    std::string_view content = body.substr(content_at, content_end - content_at);

    std::string name, filename, type;
    bool has_filename = false;
    while (!head.empty()) {
      size_t eol = head.find("\r\n");
      std::string_view line = head.substr(0, eol);
      size_t colon = line.find(':');
      if (colon != std::string_view::npos) {
        std::string_view key = trim(line.substr(0, colon)), value = trim(line.substr(colon + 1));
        if (http::iequals(key, "content-disposition")) {
          name = header_param(value, "name");
          has_filename = has_param(value, "filename");  // even empty: a file part
          filename = header_param(value, "filename");
        } else if (http::iequals(key, "content-type")) {
          type = std::string(value);
        }
      }
      if (eol == std::string_view::npos) break;
      head.remove_prefix(eol + 2);
    }
    if (!name.empty()) {
      if (!has_filename) {
        post.insert_or_assign(name, std::string(content));
      } else {
        uploaded_file f;
        f.name = filename;
        f.type = type;
        f.size = int64_t(content.size());
        if (filename.empty() && content.empty()) {
          f.error = 4;  // UPLOAD_ERR_NO_FILE
        } else if (lim.max_file > 0 && content.size() > lim.max_file) {
          f.error = 1;  // UPLOAD_ERR_INI_SIZE
        } else if (!write_upload(lim, content, &f.tmp_name)) {
          f.error = 7;  // UPLOAD_ERR_CANT_WRITE
        } else {
          tmp_paths.push_back(f.tmp_name);
        }
        files.insert_or_assign(name, std::move(f));
      }
    }
    at = content_end + 2;  // at the delimiter
  }
}

}  // namespace tern::server::http_body
