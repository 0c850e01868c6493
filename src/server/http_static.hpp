// tern::server HTTP files: the MIME type of a file name, Range and
// If-Modified-Since, and the static handler's path check (document_root).
//
// Threading: plain functions.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

namespace tern::server::http_static {

// "text/html" for "x.html", ...; "application/octet-stream" when unknown.
std::string_view mime_type(std::string_view path);

struct byte_range {
  enum kind { none, ok, unsatisfiable } what = none;
  int64_t first = 0, last = 0;  // inclusive (ok)
};
// One "bytes=a-b", "bytes=a-" or "bytes=-n" range of a file of `size` bytes.
// Several ranges or a malformed header: none (the whole file is sent, as
// RFC 9110 allows).
byte_range parse_range(std::string_view header, int64_t size);

// An IMF-fixdate (or RFC 850 / asctime) date; -1 if it is none.
std::time_t parse_http_date(std::string_view s);

// Where a request path of the static handler leads, under `root` (a
// realpath). Decodes %XX; refuses ".." segments and NUL (forbidden), and
// paths whose realpath leaves root (a symlink out: forbidden).
struct resolved {
  enum kind { not_found, forbidden, file } what = not_found;
  std::string path;
};
resolved resolve(const std::string& root, std::string_view request_path);

}  // namespace tern::server::http_static
