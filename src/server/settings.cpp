// tern::server settings: set()'s keys (swoole's names), their types and ranges,
// the checks start() runs on the whole, and the length-field framing.
#include "tern/server/settings.hpp"

#include <fmt/format.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstring>
#include <limits>
#include <thread>
#include <vector>

namespace tern::server {

int cpu_count() {
  unsigned n = std::thread::hardware_concurrency();
  if (n == 0) return 1;
  return int(std::min<unsigned>(n, INT_MAX));
}

int length_field_size(char type) {
  switch (type) {
    case 'c':
    case 'C':
      return 1;
    case 's':
    case 'S':
    case 'n':
      return 2;
    case 'N':
    case 'l':
    case 'L':
      return 4;
    case 'q':
    case 'J':
      return 8;
    default:
      return 0;
  }
}

namespace {

constexpr int64_t kIntMax = INT_MAX;
constexpr int64_t kU32Max = UINT32_MAX;
constexpr int64_t kOffsetMax = 65535;  // swoole keeps both offsets in a uint16_t
constexpr size_t kEofMax = 8;          // swoole's SW_DATA_EOF_MAXLEN
constexpr std::string_view kLengthTypes = "cCsSnNlLqJ";

bool fail(std::string* error, std::string message) {
  if (error) *error = std::move(message);
  return false;
}

// A value as the message shows it: true, 12, 2.5, "text" (escaped, shortened).
std::string show(const setting_value& v) {
  if (const bool* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  if (const int64_t* i = std::get_if<int64_t>(&v)) return fmt::format("{}", *i);
  if (const double* d = std::get_if<double>(&v)) return fmt::format("{}", *d);
  const std::string& s = std::get<std::string>(v);
  std::string out = "\"";
  size_t n = std::min<size_t>(s.size(), 40);
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c < 0x20 || c >= 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += char(c);
    }
  }
  if (n < s.size()) out += "...";
  out += '"';
  return out;
}

// The integer a value stands for: an int64, or a double without a fraction.
std::optional<int64_t> as_integer(const setting_value& v) {
  if (const int64_t* i = std::get_if<int64_t>(&v)) return *i;
  if (const double* d = std::get_if<double>(&v)) {
    double x = *d;
    // [-2^63, 2^63): the doubles that convert to int64 exactly.
    if (std::isfinite(x) && x == std::trunc(x) && x >= -9223372036854775808.0 &&
        x < 9223372036854775808.0)
      return static_cast<int64_t>(x);
  }
  return std::nullopt;
}

std::string range_text(int64_t lo, int64_t hi) {
  if (hi == kIntMax || hi == kU32Max) return fmt::format(">= {}", lo);
  return fmt::format("between {} and {}", lo, hi);
}

// One value being applied: its key (as given, so aliases are named as used).
struct arg {
  std::string_view key;
  const setting_value& value;
  std::string* error;
};

bool bad(const arg& a, std::string_view what) {
  return fail(a.error, fmt::format("setting '{}' must be {} (got {})", a.key, what, show(a.value)));
}

bool get_int(const arg& a, int64_t lo, int64_t hi, int64_t& out) {
  std::optional<int64_t> i = as_integer(a.value);
  if (!i || *i < lo || *i > hi) return bad(a, "an integer " + range_text(lo, hi));
  out = *i;
  return true;
}

bool set_int(int& field, const arg& a, int64_t lo, int64_t hi = kIntMax) {
  int64_t v;
  if (!get_int(a, lo, hi, v)) return false;
  field = static_cast<int>(v);
  return true;
}

bool set_u32(uint32_t& field, const arg& a, int64_t lo) {
  int64_t v;
  if (!get_int(a, lo, kU32Max, v)) return false;
  field = static_cast<uint32_t>(v);
  return true;
}

bool set_bool(bool& field, const arg& a) {
  if (const bool* b = std::get_if<bool>(&a.value)) {
    field = *b;
    return true;
  }
  std::optional<int64_t> i = as_integer(a.value);
  if (i && (*i == 0 || *i == 1)) {
    field = *i == 1;
    return true;
  }
  return bad(a, "a boolean");
}

bool set_string(std::string& field, const arg& a) {
  if (const std::string* s = std::get_if<std::string>(&a.value)) {
    field = *s;
    return true;
  }
  return bad(a, "a string");
}

// A number (int64 or double), finite, >= lo (> lo when strict).
bool set_number(double& field, const arg& a, double lo, bool strict) {
  double x;
  if (const int64_t* i = std::get_if<int64_t>(&a.value)) {
    x = static_cast<double>(*i);
  } else if (const double* d = std::get_if<double>(&a.value)) {
    x = *d;
  } else {
    x = std::nan("");
  }
  if (!std::isfinite(x) || x < lo || (strict && x == lo))
    return bad(a, fmt::format("a number {} {}", strict ? ">" : ">=", lo));
  field = x;
  return true;
}

bool set_dispatch(settings& s, const arg& a) {
  std::optional<int64_t> i = as_integer(a.value);
  if (i) {
    switch (*i) {
      case 1:
      case 2:
      case 3:
      case 4:
      case 5:
      case 7:
        s.dispatch = static_cast<dispatch_mode>(*i);
        return true;
      default:
        break;
    }
  }
  return bad(a, "one of 1, 2, 3, 4, 5, 7");
}

bool set_length_type(settings& s, const arg& a) {
  const std::string* t = std::get_if<std::string>(&a.value);
  if (!t || t->size() != 1 || kLengthTypes.find((*t)[0]) == std::string_view::npos)
    return bad(a, "one of c C s S n N l L q J");
  s.package_length_type = (*t)[0];
  return true;
}

bool set_eof(settings& s, const arg& a) {
  const std::string* t = std::get_if<std::string>(&a.value);
  if (!t || t->empty() || t->size() > kEofMax) return bad(a, "a string of 1 to 8 bytes");
  s.package_eof = *t;
  return true;
}

// A directory path: a non-empty string (whether it exists is start()'s check).
bool set_dir(settings& s, const arg& a) {
  const std::string* t = std::get_if<std::string>(&a.value);
  if (!t || t->empty()) return bad(a, "a directory path");
  s.upload_tmp_dir = *t;
  return true;
}

struct rule {
  std::string_view name;
  bool (*set)(settings&, const arg&);
};

// Every key set() accepts, under swoole's names.
const rule kRules[] = {
    {"reactor_num", [](settings& s, const arg& a) { return set_int(s.reactor_num, a, 1); }},
    {"worker_num", [](settings& s, const arg& a) { return set_int(s.worker_num, a, 1); }},
    {"task_worker_num", [](settings& s, const arg& a) { return set_int(s.task_worker_num, a, 0); }},
    {"max_request", [](settings& s, const arg& a) { return set_int(s.max_request, a, 0); }},
    {"task_max_request",
     [](settings& s, const arg& a) { return set_int(s.task_max_request, a, 0); }},
    {"max_conn", [](settings& s, const arg& a) { return set_int(s.max_conn, a, 1); }},
    {"max_connection", [](settings& s, const arg& a) { return set_int(s.max_conn, a, 1); }},
    {"dispatch_mode", set_dispatch},
    {"daemonize", [](settings& s, const arg& a) { return set_bool(s.daemonize, a); }},
    {"pid_file", [](settings& s, const arg& a) { return set_string(s.pid_file, a); }},
    {"log_file", [](settings& s, const arg& a) { return set_string(s.log_file, a); }},
    {"log_level", [](settings& s, const arg& a) { return set_int(s.log_level, a, 0, 6); }},
    {"heartbeat_check_interval",
     [](settings& s, const arg& a) { return set_int(s.heartbeat_check_interval, a, 0); }},
    {"heartbeat_idle_time",
     [](settings& s, const arg& a) { return set_int(s.heartbeat_idle_time, a, 0); }},
    {"open_eof_check", [](settings& s, const arg& a) { return set_bool(s.open_eof_check, a); }},
    {"open_eof_split", [](settings& s, const arg& a) { return set_bool(s.open_eof_split, a); }},
    {"package_eof", set_eof},
    {"open_length_check",
     [](settings& s, const arg& a) { return set_bool(s.open_length_check, a); }},
    {"package_length_type", set_length_type},
    {"package_length_offset",
     [](settings& s, const arg& a) { return set_int(s.package_length_offset, a, 0, kOffsetMax); }},
    {"package_body_offset",
     [](settings& s, const arg& a) { return set_int(s.package_body_offset, a, 0, kOffsetMax); }},
    {"package_max_length",
     [](settings& s, const arg& a) { return set_u32(s.package_max_length, a, 1); }},
    {"buffer_output_size",
     [](settings& s, const arg& a) { return set_u32(s.buffer_output_size, a, 1); }},
    {"socket_buffer_size",
     [](settings& s, const arg& a) { return set_u32(s.socket_buffer_size, a, 1); }},
    {"buffer_high_watermark",
     [](settings& s, const arg& a) { return set_number(s.buffer_high_watermark, a, 0, false); }},
    {"buffer_low_watermark",
     [](settings& s, const arg& a) { return set_number(s.buffer_low_watermark, a, 0, false); }},
    {"open_tcp_keepalive",
     [](settings& s, const arg& a) { return set_bool(s.open_tcp_keepalive, a); }},
    {"tcp_keepidle", [](settings& s, const arg& a) { return set_int(s.tcp_keepidle, a, 0); }},
    {"tcp_keepinterval",
     [](settings& s, const arg& a) { return set_int(s.tcp_keepinterval, a, 0); }},
    {"tcp_keepcount", [](settings& s, const arg& a) { return set_int(s.tcp_keepcount, a, 0); }},
    {"open_tcp_nodelay", [](settings& s, const arg& a) { return set_bool(s.open_tcp_nodelay, a); }},
    {"tcp_fastopen", [](settings& s, const arg& a) { return set_bool(s.tcp_fastopen, a); }},
    {"tcp_defer_accept",
     [](settings& s, const arg& a) { return set_int(s.tcp_defer_accept, a, 0); }},
    {"backlog", [](settings& s, const arg& a) { return set_int(s.backlog, a, 1); }},
    {"enable_reuse_port",
     [](settings& s, const arg& a) { return set_bool(s.enable_reuse_port, a); }},
    {"user", [](settings& s, const arg& a) { return set_string(s.user, a); }},
    {"group", [](settings& s, const arg& a) { return set_string(s.group, a); }},
    {"ssl_cert_file", [](settings& s, const arg& a) { return set_string(s.ssl_cert_file, a); }},
    {"ssl_key_file", [](settings& s, const arg& a) { return set_string(s.ssl_key_file, a); }},
    {"max_wait_time",
     [](settings& s, const arg& a) { return set_number(s.max_wait_time, a, 0, true); }},
    {"task_ipc_mode", [](settings& s, const arg& a) { return set_int(s.task_ipc_mode, a, 1, 3); }},
    // http_server / websocket_server
    {"http_parse_post", [](settings& s, const arg& a) { return set_bool(s.http_parse_post, a); }},
    {"http_parse_cookie", [](settings& s, const arg& a) { return set_bool(s.http_parse_cookie, a); }},
    {"http_compression", [](settings& s, const arg& a) { return set_bool(s.http_compression, a); }},
    {"http_compression_level",
     [](settings& s, const arg& a) { return set_int(s.http_compression_level, a, 1, 9); }},
    {"http_compression_min_length",
     [](settings& s, const arg& a) { return set_u32(s.http_compression_min_length, a, 0); }},
    {"upload_tmp_dir", set_dir},
    {"upload_max_filesize",
     [](settings& s, const arg& a) { return set_u32(s.upload_max_filesize, a, 0); }},
    {"document_root", [](settings& s, const arg& a) { return set_string(s.document_root, a); }},
    {"enable_static_handler",
     [](settings& s, const arg& a) { return set_bool(s.enable_static_handler, a); }},
    {"http_header_timeout",
     [](settings& s, const arg& a) { return set_number(s.http_header_timeout, a, 0, false); }},
    {"http_idle_timeout",
     [](settings& s, const arg& a) { return set_number(s.http_idle_timeout, a, 0, false); }},
    {"http_max_header_size",
     [](settings& s, const arg& a) { return set_u32(s.http_max_header_size, a, 256); }},
    {"http_max_header_count",
     [](settings& s, const arg& a) { return set_u32(s.http_max_header_count, a, 1); }},
    {"websocket_max_frame_size",
     [](settings& s, const arg& a) { return set_u32(s.websocket_max_frame_size, a, 1); }},
    {"open_websocket_close_frame",
     [](settings& s, const arg& a) { return set_bool(s.open_websocket_close_frame, a); }},
    {"open_websocket_ping_frame",
     [](settings& s, const arg& a) { return set_bool(s.open_websocket_ping_frame, a); }},
    {"open_websocket_pong_frame",
     [](settings& s, const arg& a) { return set_bool(s.open_websocket_pong_frame, a); }},
};

const rule* find_rule(std::string_view key) {
  for (const rule& r : kRules)
    if (r.name == key) return &r;
  return nullptr;
}

// getpwnam/getgrnam, reentrant (the buffer grows on ERANGE).
bool user_exists(const std::string& name) {
  std::vector<char> buf(4096);
  for (;;) {
    passwd pw;
    passwd* found = nullptr;
    int rc = getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found);
    if (rc == ERANGE && buf.size() < (1u << 20)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    return rc == 0 && found != nullptr;
  }
}

bool group_exists(const std::string& name) {
  std::vector<char> buf(4096);
  for (;;) {
    group gr;
    group* found = nullptr;
    int rc = getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &found);
    if (rc == ERANGE && buf.size() < (1u << 20)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    return rc == 0 && found != nullptr;
  }
}

bool in_range(int64_t v, int64_t lo, int64_t hi) { return v >= lo && v <= hi; }

}  // namespace

bool apply(settings& s, const setting_map& values, std::string* error) {
  settings next = s;
  for (const auto& [key, value] : values) {
    const rule* r = find_rule(key);
    if (!r) return fail(error, fmt::format("unknown setting '{}'", key));
    if (!r->set(next, arg{key, value, error})) return false;
  }
  // heartbeat_idle_time defaults to twice the interval: re-derive it when only
  // the interval is given and the idle time was unset (0) or derived before.
  if (values.contains("heartbeat_check_interval") && !values.contains("heartbeat_idle_time")) {
    int64_t old_derived = 2 * int64_t(s.heartbeat_check_interval);
    if (s.heartbeat_idle_time == 0 || s.heartbeat_idle_time == old_derived)
      next.heartbeat_idle_time =
          static_cast<int>(std::min<int64_t>(2 * int64_t(next.heartbeat_check_interval), kIntMax));
  }
  // swoole: open_eof_split turns open_eof_check on.
  if (next.open_eof_split) next.open_eof_check = true;
  s = std::move(next);
  return true;
}

bool validate(const settings& s, std::string* error) {
  auto need = [&](bool ok, std::string_view key, std::string_view what, int64_t got) {
    if (!ok) fail(error, fmt::format("setting '{}' must be {} (got {})", key, what, got));
    return ok;
  };
  // The struct is public: values set without apply() are checked here too.
  if (!need(s.reactor_num >= 1, "reactor_num", "an integer >= 1", s.reactor_num)) return false;
  if (!need(s.worker_num >= 1, "worker_num", "an integer >= 1", s.worker_num)) return false;
  if (!need(s.task_worker_num >= 0, "task_worker_num", "an integer >= 0", s.task_worker_num))
    return false;
  if (!need(s.max_request >= 0, "max_request", "an integer >= 0", s.max_request)) return false;
  if (!need(s.task_max_request >= 0, "task_max_request", "an integer >= 0", s.task_max_request))
    return false;
  if (!need(s.max_conn >= 1, "max_conn", "an integer >= 1", s.max_conn)) return false;
  int dm = static_cast<int>(s.dispatch);
  if (!need(in_range(dm, 1, 5) || dm == 7, "dispatch_mode", "one of 1, 2, 3, 4, 5, 7", dm))
    return false;
  if (!need(in_range(s.log_level, 0, 6), "log_level", "an integer between 0 and 6", s.log_level))
    return false;
  if (!need(s.heartbeat_check_interval >= 0, "heartbeat_check_interval", "an integer >= 0",
            s.heartbeat_check_interval))
    return false;
  if (!need(s.heartbeat_idle_time >= 0, "heartbeat_idle_time", "an integer >= 0",
            s.heartbeat_idle_time))
    return false;
  if (s.heartbeat_check_interval > 0 && s.heartbeat_idle_time > 0 &&
      s.heartbeat_idle_time < s.heartbeat_check_interval)
    return fail(error, fmt::format("setting 'heartbeat_idle_time' ({}) must not be less than "
                                   "'heartbeat_check_interval' ({})",
                                   s.heartbeat_idle_time, s.heartbeat_check_interval));
  if (!need(in_range(s.package_length_offset, 0, kOffsetMax), "package_length_offset",
            "an integer between 0 and 65535", s.package_length_offset))
    return false;
  if (!need(in_range(s.package_body_offset, 0, kOffsetMax), "package_body_offset",
            "an integer between 0 and 65535", s.package_body_offset))
    return false;
  if (!need(s.package_max_length >= 1, "package_max_length", "an integer >= 1", 0)) return false;
  if (!need(s.buffer_output_size >= 1, "buffer_output_size", "an integer >= 1", 0)) return false;
  if (!need(s.socket_buffer_size >= 1, "socket_buffer_size", "an integer >= 1", 0)) return false;
  if (!(std::isfinite(s.buffer_high_watermark) && s.buffer_high_watermark >= 0))
    return fail(error, "setting 'buffer_high_watermark' must be a number >= 0");
  if (!(std::isfinite(s.buffer_low_watermark) && s.buffer_low_watermark >= 0))
    return fail(error, "setting 'buffer_low_watermark' must be a number >= 0");
  double high =
      s.buffer_high_watermark > 0 ? s.buffer_high_watermark : double(s.socket_buffer_size);
  if (s.buffer_low_watermark > high)
    return fail(error, fmt::format("setting 'buffer_low_watermark' ({}) must not be above the high "
                                   "watermark ({})",
                                   s.buffer_low_watermark, high));
  if (!need(s.tcp_keepidle >= 0, "tcp_keepidle", "an integer >= 0", s.tcp_keepidle)) return false;
  if (!need(s.tcp_keepinterval >= 0, "tcp_keepinterval", "an integer >= 0", s.tcp_keepinterval))
    return false;
  if (!need(s.tcp_keepcount >= 0, "tcp_keepcount", "an integer >= 0", s.tcp_keepcount))
    return false;
  if (!need(s.tcp_defer_accept >= 0, "tcp_defer_accept", "an integer >= 0", s.tcp_defer_accept))
    return false;
  if (!need(s.backlog >= 1, "backlog", "an integer >= 1", s.backlog)) return false;
  if (!(std::isfinite(s.max_wait_time) && s.max_wait_time > 0))
    return fail(error, "setting 'max_wait_time' must be a number > 0");
  if (!need(in_range(s.task_ipc_mode, 1, 3), "task_ipc_mode", "an integer between 1 and 3",
            s.task_ipc_mode))
    return false;

  if (!need(in_range(s.http_compression_level, 1, 9), "http_compression_level",
            "an integer between 1 and 9", s.http_compression_level))
    return false;
  if (!(std::isfinite(s.http_header_timeout) && s.http_header_timeout >= 0))
    return fail(error, "setting 'http_header_timeout' must be a number >= 0");
  if (!(std::isfinite(s.http_idle_timeout) && s.http_idle_timeout >= 0))
    return fail(error, "setting 'http_idle_timeout' must be a number >= 0");
  if (s.upload_tmp_dir.empty()) return fail(error, "setting 'upload_tmp_dir' must be a directory path");

  // Framing.
  if (s.open_eof_check || s.open_eof_split) {
    if (s.package_eof.empty() || s.package_eof.size() > kEofMax)
      return fail(error, fmt::format("setting '{}' needs 'package_eof' (a string of 1 to 8 bytes)",
                                     s.open_eof_split ? "open_eof_split" : "open_eof_check"));
  }
  if (s.open_length_check && (s.open_eof_check || s.open_eof_split))
    return fail(error, fmt::format("settings 'open_length_check' and '{}' cannot both be on",
                                   s.open_eof_split ? "open_eof_split" : "open_eof_check"));
  if (s.open_length_check) {
    int size = length_field_size(s.package_length_type);
    if (size == 0)
      return fail(error, fmt::format("setting 'package_length_type' must be one of c C s S n N l L "
                                     "q J (got '{}')",
                                     s.package_length_type));
    int64_t header = int64_t(s.package_length_offset) + size;
    if (s.package_body_offset != 0 && s.package_body_offset < header)
      return fail(error,
                  fmt::format("setting 'package_body_offset' ({}) must be 0 (the length counts "
                              "the whole packet) or at least 'package_length_offset' + the "
                              "size of a '{}' field ({})",
                              s.package_body_offset, s.package_length_type, header));
    if (int64_t(s.package_max_length) < header)
      return fail(error, fmt::format("setting 'package_max_length' ({}) is shorter than the length "
                                     "field's end ({})",
                                     s.package_max_length, header));
  }

  // TLS: both files, readable.
  if (s.ssl_cert_file.empty() != s.ssl_key_file.empty())
    return fail(error, s.ssl_key_file.empty() ? "setting 'ssl_cert_file' needs 'ssl_key_file'"
                                              : "setting 'ssl_key_file' needs 'ssl_cert_file'");
  if (!s.ssl_cert_file.empty() && ::access(s.ssl_cert_file.c_str(), R_OK) != 0)
    return fail(error, fmt::format("setting 'ssl_cert_file': can't read {}: {}", s.ssl_cert_file,
                                   std::strerror(errno)));
  if (!s.ssl_key_file.empty() && ::access(s.ssl_key_file.c_str(), R_OK) != 0)
    return fail(error, fmt::format("setting 'ssl_key_file': can't read {}: {}", s.ssl_key_file,
                                   std::strerror(errno)));

  if (!s.user.empty() && !user_exists(s.user))
    return fail(error, fmt::format("setting 'user': no such user '{}'", s.user));
  if (!s.group.empty() && !group_exists(s.group))
    return fail(error, fmt::format("setting 'group': no such group '{}'", s.group));
  return true;
}

namespace {

inline uint64_t load_be(const unsigned char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

template <typename T>
inline T load_host(const unsigned char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

int64_t packet_length(const settings& s, const char* data, size_t size) {
  const int field = length_field_size(s.package_length_type);
  if (field == 0 || s.package_length_offset < 0 || s.package_body_offset < 0) return -1;
  const size_t header = size_t(s.package_length_offset) + size_t(field);
  if (size < header) return 0;

  const unsigned char* p = reinterpret_cast<const unsigned char*>(data) + s.package_length_offset;
  int64_t body;
  switch (s.package_length_type) {
    case 'c':
      body = static_cast<int8_t>(p[0]);
      break;
    case 'C':
      body = p[0];
      break;
    case 's':
      body = load_host<int16_t>(p);
      break;
    case 'S':
      body = load_host<uint16_t>(p);
      break;
    case 'n':
      body = static_cast<int64_t>(load_be(p, 2));
      break;
    case 'N':
      body = static_cast<int64_t>(load_be(p, 4));
      break;
    case 'l':
      body = load_host<int32_t>(p);
      break;
    case 'L':
      body = load_host<uint32_t>(p);
      break;
    case 'q':
      body = load_host<int64_t>(p);
      break;
    default: {  // 'J': unsigned 64-bit big endian; above INT64_MAX reads as negative
      uint64_t u = load_be(p, 8);
      if (u > uint64_t(INT64_MAX)) return -1;
      body = static_cast<int64_t>(u);
      break;
    }
  }
  if (body < 0) return -1;
  // body_offset <= 65535 in a valid settings, but stay overflow-free for any.
  const int64_t max = s.package_max_length;
  if (body > max) return -1;
  const int64_t total = int64_t(s.package_body_offset) + body;
  if (total > max || total < int64_t(header)) return -1;
  return total;
}

}  // namespace tern::server
