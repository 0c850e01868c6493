// tern::server settings: apply() (keys, types, ranges), validate(), packet_length().
#include "tern/server/settings.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace tern::server {
namespace {

using namespace std::string_literals;

struct key_case {
  const char* key;
  setting_value good;
  setting_value bad;
};

// Every key set() accepts, with a value it takes and one it refuses.
const std::vector<key_case>& all_keys() {
  static const std::vector<key_case> cases = {
      {"reactor_num", int64_t(4), int64_t(0)},
      {"worker_num", int64_t(3), int64_t(-3)},
      {"task_worker_num", int64_t(0), int64_t(-1)},
      {"max_request", int64_t(1000), int64_t(-1)},
      {"task_max_request", int64_t(10), int64_t(-1)},
      {"max_conn", int64_t(1000), int64_t(0)},
      {"max_connection", int64_t(2000), int64_t(0)},
      {"dispatch_mode", int64_t(7), int64_t(6)},
      {"daemonize", true, "yes"s},
      {"pid_file", "/tmp/tern.pid"s, int64_t(1)},
      {"log_file", "/tmp/tern.log"s, true},
      {"log_level", int64_t(5), int64_t(7)},
      {"heartbeat_check_interval", int64_t(5), int64_t(-1)},
      {"heartbeat_idle_time", int64_t(10), int64_t(-1)},
      {"open_eof_check", true, int64_t(2)},
      {"open_eof_split", false, "x"s},
      {"package_eof", "\r\n"s, "123456789"s},
      {"open_length_check", int64_t(1), 2.5},
      {"package_length_type", "n"s, "x"s},
      {"package_length_offset", int64_t(2), int64_t(65536)},
      {"package_body_offset", int64_t(4), int64_t(-1)},
      {"package_max_length", int64_t(1024), int64_t(0)},
      {"buffer_output_size", int64_t(4096), int64_t(0)},
      {"socket_buffer_size", int64_t(1) << 20, int64_t(-5)},
      {"buffer_high_watermark", 1024.0, -1.0},
      {"buffer_low_watermark", int64_t(0), "a"s},
      {"open_tcp_keepalive", true, 1.5},
      {"tcp_keepidle", int64_t(4), int64_t(-1)},
      {"tcp_keepinterval", int64_t(1), int64_t(-1)},
      {"tcp_keepcount", int64_t(5), int64_t(-1)},
      {"open_tcp_nodelay", true, "true"s},
      {"tcp_fastopen", true, int64_t(3)},
      {"tcp_defer_accept", int64_t(5), int64_t(-1)},
      {"backlog", int64_t(128), int64_t(0)},
      {"enable_reuse_port", true, int64_t(-1)},
      {"user", "root"s, int64_t(0)},
      {"group", "root"s, false},
      {"ssl_cert_file", "/etc/ssl/cert.pem"s, int64_t(1)},
      {"ssl_key_file", "/etc/ssl/key.pem"s, int64_t(2)},
      {"max_wait_time", 0.5, 0.0},
      {"task_ipc_mode", int64_t(3), int64_t(4)},
      {"http_parse_post", false, "no"s},
      {"http_parse_cookie", true, int64_t(2)},
      {"http_compression", false, 0.5},
      {"http_compression_level", int64_t(6), int64_t(10)},
      {"http_compression_min_length", int64_t(0), int64_t(-1)},
      {"upload_tmp_dir", "/var/tmp"s, ""s},
      {"upload_max_filesize", int64_t(1) << 20, int64_t(-1)},
      {"document_root", "/srv/www"s, int64_t(1)},
      {"enable_static_handler", true, "on"s},
      {"http_header_timeout", 0.5, -1.0},
      {"http_idle_timeout", int64_t(30), "x"s},
      {"http_max_header_size", int64_t(8192), int64_t(10)},
      {"http_max_header_count", int64_t(50), int64_t(0)},
      {"websocket_max_frame_size", int64_t(65536), int64_t(0)},
      {"open_websocket_close_frame", true, int64_t(5)},
      {"open_websocket_ping_frame", false, "x"s},
      {"open_websocket_pong_frame", true, 2.0},
  };
  return cases;
}

TEST(ServerSettings, DefaultsUseTheCoresAndValidate) {
  settings s;
  EXPECT_GE(cpu_count(), 1);
  EXPECT_EQ(s.worker_num, cpu_count());
  EXPECT_EQ(s.reactor_num, cpu_count());
  EXPECT_EQ(s.dispatch, dispatch_mode::fd_modulo);
  std::string error;
  EXPECT_TRUE(validate(s, &error)) << error;
}

TEST(ServerSettings, EveryKeyAcceptsAGoodValue) {
  for (const key_case& c : all_keys()) {
    settings s;
    std::string error;
    EXPECT_TRUE(apply(s, {{c.key, c.good}}, &error)) << c.key << ": " << error;
    EXPECT_TRUE(error.empty()) << c.key;
  }
}

TEST(ServerSettings, EveryKeyRefusesABadValueNamingTheKeyAndLeavesSettingsUnchanged) {
  for (const key_case& c : all_keys()) {
    settings s;
    s.worker_num = 7;
    const settings before = s;
    std::string error;
    // With a good value for another key: nothing of the call may stick.
    const char* other = std::string_view(c.key) == "backlog" ? "max_request" : "backlog";
    EXPECT_FALSE(apply(s, {{other, int64_t(9)}, {c.key, c.bad}}, &error)) << c.key;
    EXPECT_NE(error.find("setting '"s + c.key + "'"), std::string::npos) << c.key << ": " << error;
    EXPECT_TRUE(s == before) << c.key;
  }
}

TEST(ServerSettings, GoodValuesLandInTheirFields) {
  settings s;
  std::string error;
  ASSERT_TRUE(apply(s,
                    {{"reactor_num", int64_t(3)},
                     {"worker_num", int64_t(5)},
                     {"task_worker_num", int64_t(2)},
                     {"max_connection", int64_t(1234)},
                     {"dispatch_mode", int64_t(4)},
                     {"daemonize", int64_t(1)},
                     {"pid_file", "/run/x.pid"s},
                     {"package_length_type", "J"s},
                     {"package_max_length", int64_t(4294967295)},
                     {"buffer_high_watermark", int64_t(8192)},
                     {"max_wait_time", int64_t(2)},
                     {"task_ipc_mode", 3.0}},
                    &error))
      << error;
  EXPECT_EQ(s.reactor_num, 3);
  EXPECT_EQ(s.worker_num, 5);
  EXPECT_EQ(s.task_worker_num, 2);
  EXPECT_EQ(s.max_conn, 1234);
  EXPECT_EQ(s.dispatch, dispatch_mode::ip_hash);
  EXPECT_TRUE(s.daemonize);
  EXPECT_EQ(s.pid_file, "/run/x.pid");
  EXPECT_EQ(s.package_length_type, 'J');
  EXPECT_EQ(s.package_max_length, 4294967295u);
  EXPECT_EQ(s.buffer_high_watermark, 8192.0);
  EXPECT_EQ(s.max_wait_time, 2.0);
  EXPECT_EQ(s.task_ipc_mode, 3);
}

TEST(ServerSettings, MessagesShowTheRuleAndTheValue) {
  settings s;
  std::string error;
  EXPECT_FALSE(apply(s, {{"worker_num", int64_t(-3)}}, &error));
  EXPECT_EQ(error, "setting 'worker_num' must be an integer >= 1 (got -3)");
  EXPECT_FALSE(apply(s, {{"worker_num", "four"s}}, &error));
  EXPECT_EQ(error, "setting 'worker_num' must be an integer >= 1 (got \"four\")");
  EXPECT_FALSE(apply(s, {{"worker_num", 2.5}}, &error));
  EXPECT_EQ(error, "setting 'worker_num' must be an integer >= 1 (got 2.5)");
  EXPECT_FALSE(apply(s, {{"log_level", int64_t(7)}}, &error));
  EXPECT_EQ(error, "setting 'log_level' must be an integer between 0 and 6 (got 7)");
  EXPECT_FALSE(apply(s, {{"dispatch_mode", int64_t(6)}}, &error));
  EXPECT_EQ(error, "setting 'dispatch_mode' must be one of 1, 2, 3, 4, 5, 7 (got 6)");
  EXPECT_FALSE(apply(s, {{"daemonize", int64_t(2)}}, &error));
  EXPECT_EQ(error, "setting 'daemonize' must be a boolean (got 2)");
  EXPECT_FALSE(apply(s, {{"package_length_type", "NN"s}}, &error));
  EXPECT_EQ(error, "setting 'package_length_type' must be one of c C s S n N l L q J (got \"NN\")");
  EXPECT_FALSE(apply(s, {{"max_wait_time", 0.0}}, &error));
  EXPECT_EQ(error, "setting 'max_wait_time' must be a number > 0 (got 0)");
  EXPECT_FALSE(apply(s, {{"pid_file", true}}, &error));
  EXPECT_EQ(error, "setting 'pid_file' must be a string (got true)");
  EXPECT_FALSE(apply(s, {{"max_connection", int64_t(0)}}, &error));
  EXPECT_EQ(error,
            "setting 'max_connection' must be an integer >= 1 (got 0)");  // the alias, as used
}

TEST(ServerSettings, UnknownKeyIsRefused) {
  settings s;
  const settings before = s;
  std::string error;
  EXPECT_FALSE(apply(s, {{"worker_num", int64_t(4)}, {"wroker_num", int64_t(4)}}, &error));
  EXPECT_EQ(error, "unknown setting 'wroker_num'");
  EXPECT_TRUE(s == before);
  EXPECT_FALSE(apply(s, {{"x", int64_t(1)}}, nullptr));  // a null error is allowed
}

TEST(ServerSettings, TypeRules) {
  settings s;
  std::string error;
  EXPECT_TRUE(apply(s, {{"worker_num", 4.0}}, &error)) << error;  // a double without fraction
  EXPECT_EQ(s.worker_num, 4);
  EXPECT_FALSE(apply(s, {{"worker_num", 1e300}}, &error));
  EXPECT_FALSE(apply(s, {{"worker_num", std::numeric_limits<double>::quiet_NaN()}}, &error));
  EXPECT_FALSE(apply(s, {{"worker_num", int64_t(1) << 40}}, &error));  // beyond int
  EXPECT_FALSE(apply(s, {{"worker_num", true}}, &error));              // a bool is not a count
  EXPECT_TRUE(apply(s, {{"open_tcp_nodelay", int64_t(1)}, {"tcp_fastopen", int64_t(0)}}, &error));
  EXPECT_TRUE(s.open_tcp_nodelay);
  EXPECT_FALSE(s.tcp_fastopen);
  EXPECT_TRUE(apply(s, {{"buffer_low_watermark", int64_t(100)}}, &error));  // an int for a number
  EXPECT_EQ(s.buffer_low_watermark, 100.0);
  EXPECT_FALSE(
      apply(s, {{"buffer_low_watermark", std::numeric_limits<double>::infinity()}}, &error));
  EXPECT_FALSE(apply(s, {{"user", int64_t(0)}}, &error));  // strings only for strings
  EXPECT_FALSE(apply(s, {{"package_eof", ""s}}, &error));
  EXPECT_TRUE(apply(s, {{"package_eof", "12345678"s}}, &error));
  EXPECT_FALSE(apply(s, {{"package_max_length", int64_t(4294967296)}}, &error));
}

TEST(ServerSettings, HeartbeatIdleTimeDefaultsToTwiceTheInterval) {
  settings s;
  std::string error;
  ASSERT_TRUE(apply(s, {{"heartbeat_check_interval", int64_t(5)}}, &error));
  EXPECT_EQ(s.heartbeat_idle_time, 10);
  ASSERT_TRUE(apply(s, {{"heartbeat_check_interval", int64_t(7)}}, &error));
  EXPECT_EQ(s.heartbeat_idle_time, 14);  // derived: follows the interval
  ASSERT_TRUE(apply(s, {{"heartbeat_idle_time", int64_t(30)}}, &error));
  ASSERT_TRUE(apply(s, {{"heartbeat_check_interval", int64_t(8)}}, &error));
  EXPECT_EQ(s.heartbeat_idle_time, 30);  // explicit: kept
  settings t;
  ASSERT_TRUE(apply(
      t, {{"heartbeat_check_interval", int64_t(5)}, {"heartbeat_idle_time", int64_t(6)}}, &error));
  EXPECT_EQ(t.heartbeat_idle_time, 6);
  settings u;
  ASSERT_TRUE(apply(u, {{"heartbeat_idle_time", int64_t(60)}}, &error));
  EXPECT_EQ(u.heartbeat_check_interval, 0);  // idle time alone: heartbeat() by hand (swoole)
  EXPECT_TRUE(validate(u, &error)) << error;
  u.heartbeat_check_interval = 61;
  EXPECT_FALSE(validate(u, &error));
  EXPECT_NE(error.find("heartbeat_idle_time"), std::string::npos);
}

TEST(ServerSettings, EofSplitTurnsEofCheckOn) {
  settings s;
  std::string error;
  ASSERT_TRUE(apply(s, {{"open_eof_split", true}, {"package_eof", "\n"s}}, &error));
  EXPECT_TRUE(s.open_eof_check);
  EXPECT_TRUE(validate(s, &error)) << error;
}

TEST(ServerSettings, ValidateFraming) {
  std::string error;
  settings s;
  s.open_eof_check = true;
  EXPECT_FALSE(validate(s, &error));
  EXPECT_NE(error.find("package_eof"), std::string::npos) << error;
  s.package_eof = "\r\n";
  EXPECT_TRUE(validate(s, &error)) << error;

  s.open_length_check = true;
  EXPECT_FALSE(validate(s, &error));
  EXPECT_NE(error.find("open_length_check"), std::string::npos) << error;
  EXPECT_NE(error.find("open_eof_check"), std::string::npos) << error;

  settings l;
  l.open_length_check = true;
  l.package_length_type = 'N';
  l.package_length_offset = 2;
  l.package_body_offset = 4;  // inside the length field
  EXPECT_FALSE(validate(l, &error));
  EXPECT_NE(error.find("package_body_offset"), std::string::npos) << error;
  l.package_body_offset = 6;
  EXPECT_TRUE(validate(l, &error)) << error;
  l.package_body_offset = 0;  // the length counts the whole packet
  EXPECT_TRUE(validate(l, &error)) << error;
  l.package_length_type = 'x';
  EXPECT_FALSE(validate(l, &error));
  EXPECT_NE(error.find("package_length_type"), std::string::npos) << error;
  l.package_length_type = 'q';
  l.package_max_length = 9;  // shorter than offset 2 + 8
  EXPECT_FALSE(validate(l, &error));
  EXPECT_NE(error.find("package_max_length"), std::string::npos) << error;
}

TEST(ServerSettings, ValidateTlsUserGroupAndRanges) {
  std::string error;
  settings s;
  s.ssl_cert_file = "/etc/passwd";
  EXPECT_FALSE(validate(s, &error));
  EXPECT_EQ(error, "setting 'ssl_cert_file' needs 'ssl_key_file'");
  s.ssl_key_file = "/etc/passwd";
  EXPECT_TRUE(validate(s, &error)) << error;
  s.ssl_key_file = "/nonexistent/tern.key";
  EXPECT_FALSE(validate(s, &error));
  EXPECT_NE(error.find("ssl_key_file"), std::string::npos) << error;
  settings k;
  k.ssl_key_file = "/etc/passwd";
  EXPECT_FALSE(validate(k, &error));
  EXPECT_EQ(error, "setting 'ssl_key_file' needs 'ssl_cert_file'");

  settings u;
  u.user = "root";
  u.group = "root";
  EXPECT_TRUE(validate(u, &error)) << error;
  u.user = "no_such_user_tern_test";
  EXPECT_FALSE(validate(u, &error));
  EXPECT_NE(error.find("'user'"), std::string::npos) << error;
  u.user = "root";
  u.group = "no_such_group_tern_test";
  EXPECT_FALSE(validate(u, &error));
  EXPECT_NE(error.find("'group'"), std::string::npos) << error;

  settings r;  // fields set directly are checked too
  r.log_level = 9;
  EXPECT_FALSE(validate(r, &error));
  EXPECT_NE(error.find("log_level"), std::string::npos) << error;
  r = settings{};
  r.worker_num = 0;
  EXPECT_FALSE(validate(r, &error));
  EXPECT_NE(error.find("worker_num"), std::string::npos) << error;
  r = settings{};
  r.buffer_low_watermark = 100;
  r.buffer_high_watermark = 50;
  EXPECT_FALSE(validate(r, &error));
  EXPECT_NE(error.find("buffer_low_watermark"), std::string::npos) << error;
}

TEST(ServerSettings, LengthFieldSizes) {
  EXPECT_EQ(length_field_size('c'), 1);
  EXPECT_EQ(length_field_size('C'), 1);
  EXPECT_EQ(length_field_size('s'), 2);
  EXPECT_EQ(length_field_size('S'), 2);
  EXPECT_EQ(length_field_size('n'), 2);
  EXPECT_EQ(length_field_size('N'), 4);
  EXPECT_EQ(length_field_size('l'), 4);
  EXPECT_EQ(length_field_size('L'), 4);
  EXPECT_EQ(length_field_size('q'), 8);
  EXPECT_EQ(length_field_size('J'), 8);
  EXPECT_EQ(length_field_size('v'), 0);
  EXPECT_EQ(length_field_size('x'), 0);
}

// --- packet_length ---

settings framing(char type, int length_offset, int body_offset, uint32_t max = 2 * 1024 * 1024) {
  settings s;
  s.open_length_check = true;
  s.package_length_type = type;
  s.package_length_offset = length_offset;
  s.package_body_offset = body_offset;
  s.package_max_length = max;
  return s;
}

template <typename T>
std::vector<char> host_bytes(std::vector<char> prefix, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof v);
  prefix.insert(prefix.end(), b, b + sizeof b);
  return prefix;
}

int64_t len(const settings& s, const std::vector<char>& bytes) {
  return packet_length(s, bytes.data(), bytes.size());
}

TEST(ServerPacketLength, BigEndianN) {
  settings s = framing('N', 0, 4);
  std::vector<char> p = {0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o'};
  EXPECT_EQ(len(s, p), 9);
  EXPECT_EQ(packet_length(s, p.data(), 3), 0);  // the field is not complete
  EXPECT_EQ(packet_length(s, p.data(), 4), 9);  // the body need not be there yet
  EXPECT_EQ(packet_length(s, nullptr, 0), 0);
  std::vector<char> big = {0x01, 0x02, 0x03, 0x04};
  EXPECT_EQ(len(framing('N', 0, 4, 0xffffffffu), big), 0x01020304 + 4);
}

TEST(ServerPacketLength, BigEndianNWithOffsets) {
  settings s = framing('n', 2, 4);  // 2 bytes of type, 2 of length, then the body
  std::vector<char> p = {'\xAA', '\xBB', 0x01, 0x00};
  EXPECT_EQ(len(s, p), 4 + 256);
  EXPECT_EQ(packet_length(s, p.data(), 3), 0);
  settings t = framing('n', 2, 10);  // a header longer than the length field
  EXPECT_EQ(len(t, p), 10 + 256);
}

TEST(ServerPacketLength, OneByteSignedAndUnsigned) {
  EXPECT_EQ(len(framing('C', 0, 1), {'\xC8'}), 1 + 200);
  EXPECT_EQ(len(framing('c', 0, 1), {'\x7F'}), 1 + 127);
  EXPECT_EQ(len(framing('c', 0, 1), {'\xFF'}), -1);  // -1: negative length
  EXPECT_EQ(len(framing('C', 3, 4), {1, 2, 3, 9}), 4 + 9);
}

TEST(ServerPacketLength, HostOrder16And32And64) {
  EXPECT_EQ(len(framing('s', 0, 2), host_bytes<int16_t>({}, 300)), 302);
  EXPECT_EQ(len(framing('s', 0, 2), host_bytes<int16_t>({}, -2)), -1);
  EXPECT_EQ(len(framing('S', 0, 2), host_bytes<uint16_t>({}, 65535)), 65537);
  EXPECT_EQ(len(framing('l', 1, 5), host_bytes<int32_t>({'x'}, 10)), 15);
  EXPECT_EQ(len(framing('l', 0, 4), host_bytes<int32_t>({}, -1)), -1);
  EXPECT_EQ(len(framing('L', 0, 4), host_bytes<uint32_t>({}, 70000)), 70004);
  EXPECT_EQ(len(framing('q', 0, 8), host_bytes<int64_t>({}, 100)), 108);
  EXPECT_EQ(len(framing('q', 0, 8), host_bytes<int64_t>({}, -5)), -1);
  if constexpr (std::endian::native == std::endian::little) {
    EXPECT_EQ(len(framing('s', 0, 2), {0x01, 0x00}), 3);
    EXPECT_EQ(len(framing('S', 0, 2), {0x00, 0x01}), 256 + 2);
    EXPECT_EQ(len(framing('L', 0, 4), {0x10, 0, 0, 0}), 16 + 4);
    EXPECT_EQ(len(framing('q', 0, 8), {0x20, 0, 0, 0, 0, 0, 0, 0}), 32 + 8);
  }
}

TEST(ServerPacketLength, BigEndian64J) {
  EXPECT_EQ(len(framing('J', 0, 8), {0, 0, 0, 0, 0, 0, 1, 0}), 256 + 8);
  EXPECT_EQ(len(framing('J', 2, 10), {'a', 'b', 0, 0, 0, 0, 0, 0, 0, 7}), 17);
  // Above INT64_MAX: negative as swoole reads it.
  EXPECT_EQ(len(framing('J', 0, 8), {'\x80', 0, 0, 0, 0, 0, 0, 0}), -1);
  // Huge but positive: over package_max_length.
  EXPECT_EQ(len(framing('J', 0, 8, 0xffffffffu), {0x7f, 0, 0, 0, 0, 0, 0, 0}), -1);
}

TEST(ServerPacketLength, BodyOffsetZeroMeansTheLengthCountsTheWholePacket) {
  settings s = framing('N', 0, 0);
  EXPECT_EQ(len(s, {0, 0, 0, 12}), 12);
  EXPECT_EQ(len(s, {0, 0, 0, 4}), 4);   // just the header
  EXPECT_EQ(len(s, {0, 0, 0, 3}), -1);  // shorter than its own length field
  EXPECT_EQ(len(s, {0, 0, 0, 0}), -1);
  settings t = framing('n', 2, 0);
  EXPECT_EQ(len(t, {9, 9, 0, 3}), -1);
  EXPECT_EQ(len(t, {9, 9, 0, 4}), 4);
}

TEST(ServerPacketLength, OverMaxLengthIsInvalid) {
  settings s = framing('N', 0, 4, 100);
  EXPECT_EQ(len(s, {0, 0, 0, 96}), 100);  // exactly the maximum
  EXPECT_EQ(len(s, {0, 0, 0, 97}), -1);
  EXPECT_EQ(len(s, {'\xFF', '\xFF', '\xFF', '\xFF'}), -1);
  EXPECT_EQ(len(framing('L', 0, 0, 0xffffffffu), host_bytes<uint32_t>({}, 0xffffffffu)),
            0xffffffffll);
}

TEST(ServerPacketLength, BadSettingsAreInvalidNotUndefined) {
  std::vector<char> p(16, 1);
  EXPECT_EQ(len(framing('x', 0, 4), p), -1);
  EXPECT_EQ(len(framing('N', -1, 4), p), -1);
  EXPECT_EQ(len(framing('N', 0, -4), p), -1);
}

// Random settings and bytes: the answer is always 0 (iff the field is incomplete),
// -1, or a length in [end of the length field, package_max_length]; ASan watches reads.
TEST(ServerPacketLength, RandomInputStaysInBounds) {
  std::mt19937_64 rng(12345);
  const std::string types = "cCsSnNlLqJ";
  for (int i = 0; i < 50000; ++i) {
    char type = types[rng() % types.size()];
    int loff = int(rng() % 6);
    int size = length_field_size(type);
    int boff = (rng() % 4 == 0) ? 0 : loff + size + int(rng() % 4);
    uint32_t max = (rng() % 2) ? uint32_t(rng() % 1000 + 1) : uint32_t(rng());
    if (max == 0) max = 1;
    settings s = framing(type, loff, boff, max);
    size_t n = rng() % 20;
    std::vector<char> bytes(n);
    for (char& c : bytes) c = char(rng() % 4 == 0 ? rng() : rng() % 8);
    // An exact-size heap block, so that ASan sees any read past the end.
    std::unique_ptr<char[]> data(n ? new char[n] : nullptr);
    if (n) std::memcpy(data.get(), bytes.data(), n);
    int64_t r = packet_length(s, data.get(), n);
    int64_t header = loff + size;
    if (int64_t(n) < header) {
      ASSERT_EQ(r, 0);
    } else {
      ASSERT_NE(r, 0);
      if (r != -1) {
        ASSERT_GE(r, header);
        ASSERT_LE(r, int64_t(max));
      }
    }
  }
}

}  // namespace
}  // namespace tern::server
