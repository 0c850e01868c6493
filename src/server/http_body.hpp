// tern::server HTTP request bodies and fields: url-decoding (query strings,
// application/x-www-form-urlencoded), the Cookie header, multipart/form-data
// (fields and uploaded files), and url-encoding for Set-Cookie.
//
// Threading: plain functions.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tern/server/http.hpp"

namespace tern::server::http_body {

// %XX decoded (a bad escape stays as it is); '+' as a space when plus_space.
std::string url_decode(std::string_view s, bool plus_space);
// Everything but ALPHA / DIGIT / "-._~" as %XX (RFC 3986 unreserved kept).
std::string url_encode(std::string_view s);

// "a=1&b=x+y" -> {a: "1", b: "x y"}; names and values url-decoded; the last
// of a repeated name wins; a name without '=' gets "".
void parse_query(std::string_view q, std::map<std::string, std::string>& out);

// "a=1; b=2" -> {a: "1", b: "2"}; values url-decoded, quotes dropped.
void parse_cookies(std::string_view header, std::map<std::string, std::string>& out);

// The value of a parameter of a header value ("multipart/form-data;
// boundary=x" -> "x" for "boundary"), quotes removed; "" if absent.
std::string header_param(std::string_view value, std::string_view name);

struct multipart_limits {
  std::string tmp_dir = "/tmp";
  uint64_t max_file = 0;  // 0: no limit of its own
};

// multipart/form-data: fields into post, file parts written to files in
// tmp_dir (mkstemp, "swoole.upfile.XXXXXX") and described in files; every
// file made is added to tmp_paths (the caller removes them). False if the
// body is not well-formed multipart (what was parsed stays).
bool parse_multipart(std::string_view body, std::string_view boundary, const multipart_limits& lim,
                     std::map<std::string, std::string>& post, std::map<std::string, uploaded_file>& files,
                     std::vector<std::string>& tmp_paths);

}  // namespace tern::server::http_body
