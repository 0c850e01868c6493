// tern::server settings: swoole's Server->set() keys, typed, with the checks
// start() runs (a bad value is refused with a message naming the key).
//
// Threading: plain values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace tern::server {

// A value as given to set(): from C++ or from a Lua table.
using setting_value = std::variant<bool, int64_t, double, std::string>;
using setting_map = std::map<std::string, setting_value, std::less<>>;

// Number of cores (std::thread::hardware_concurrency), at least 1: the default
// reactor_num and worker_num.
int cpu_count();

enum class dispatch_mode { round_robin = 1, fd_modulo = 2, preemptive = 3, ip_hash = 4, uid = 5, stream = 7 };

struct settings {
  int reactor_num = cpu_count();    // default: number of cores (swoole caps it at 4 per core)
  int worker_num = cpu_count();     // default: number of cores
  int task_worker_num = 0;
  int max_request = 0;              // 0: never recycle a worker
  int task_max_request = 0;
  int max_conn = 100000;            // swoole's max_connection
  dispatch_mode dispatch = dispatch_mode::fd_modulo;
  bool daemonize = false;
  std::string pid_file;
  std::string log_file;
  int log_level = 0;                // 0 debug .. 5 error, 6 none (swoole's SWOOLE_LOG_*)
  int heartbeat_check_interval = 0;  // seconds; 0: off
  int heartbeat_idle_time = 0;       // seconds; default 2 * interval when interval is set
                                     // (a set() of the interval alone re-derives an idle
                                     // time that is 0 or was derived)
  bool open_eof_check = false;
  bool open_eof_split = false;
  std::string package_eof;
  bool open_length_check = false;
  char package_length_type = 'N';    // c C s S n N l L q J (pack() codes)
  int package_length_offset = 0;
  int package_body_offset = 0;
  uint32_t package_max_length = 2 * 1024 * 1024;
  uint32_t buffer_output_size = 2 * 1024 * 1024;  // largest single send()
  uint32_t socket_buffer_size = 2 * 1024 * 1024;  // per connection output buffer limit
  double buffer_high_watermark = 0;  // bytes; 0: socket_buffer_size (onBufferFull)
  double buffer_low_watermark = 0;   // bytes (onBufferEmpty)
  bool open_tcp_keepalive = false;
  int tcp_keepidle = 0, tcp_keepinterval = 0, tcp_keepcount = 0;
  bool open_tcp_nodelay = false;
  bool tcp_fastopen = false;
  int tcp_defer_accept = 0;
  int backlog = 512;
  bool enable_reuse_port = false;
  std::string user, group;
  std::string ssl_cert_file, ssl_key_file;
  double max_wait_time = 3;          // seconds a reloading worker gets to finish (> 0)
  int task_ipc_mode = 1;             // 1: unix socket to a chosen task worker, 2: same, 3: queue (any idle)

  // http_server / websocket_server (include/tern/server/http.hpp); a plain
  // server ignores them. package_max_length is the request body limit there.
  bool http_parse_post = true;        // urlencoded / multipart bodies into request.post
  bool http_parse_cookie = true;      // the Cookie header into request.cookie
  bool http_compression = true;       // gzip for clients that accept it
  int http_compression_level = 1;     // 1 (fast) .. 9 (small)
  uint32_t http_compression_min_length = 20;  // bodies shorter than this stay plain
  std::string upload_tmp_dir = "/tmp";
  uint32_t upload_max_filesize = 0;   // bytes of one uploaded file; 0: package_max_length only
  std::string document_root;
  bool enable_static_handler = false;
  double http_header_timeout = 10;    // seconds to receive a request head once it started; 0: none
  double http_idle_timeout = 60;      // seconds between requests on a kept-alive connection; 0: none
  uint32_t http_max_header_size = 16 * 1024;  // request line + headers -> 431
  uint32_t http_max_header_count = 100;       // headers -> 431
  uint32_t websocket_max_frame_size = 2 * 1024 * 1024;  // payload of a frame or message -> 1009
  bool open_websocket_close_frame = false;  // close frames reach on_message
  bool open_websocket_ping_frame = false;   // pings reach on_message (no automatic pong)
  bool open_websocket_pong_frame = false;   // pongs reach on_message

  bool operator==(const settings&) const = default;
};

// Applies set()'s values over s. Unknown keys and bad values (wrong type, out of
// range, a length type not in "cCsSnNlLqJ", ...) leave s unchanged and return
// false with a message in *error naming the key. Values are checked again as a
// whole by validate() at start().
bool apply(settings& s, const setting_map& values, std::string* error);

// Checks the combination (e.g. open_eof_check needs package_eof, the body offset
// must not be before the end of the length field). Returns false with *error.
bool validate(const settings& s, std::string* error);

// Length of the length field for a package_length_type, or 0 if unknown.
int length_field_size(char type);

// Framing for open_length_check (swoole's semantics): the field of
// package_length_type at package_length_offset holds the BODY length, and the
// packet is package_body_offset + that many bytes (package_body_offset 0: the
// field holds the length of the whole packet, header included). Given the
// bytes received so far (data may be null when size is 0), returns
//   > 0  the length of the whole packet (may be more than size: wait for it),
//   0    the length field is not complete yet: read more,
//   -1   malformed: an unknown length type, a negative length (c s l q, or J
//        above INT64_MAX), a packet longer than package_max_length, or one too
//        short to hold its own length field. Close the connection.
// Reads only data[package_length_offset .. + field size); no allocation.
int64_t packet_length(const settings& s, const char* data, size_t size);

}  // namespace tern::server
