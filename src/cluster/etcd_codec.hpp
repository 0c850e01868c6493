// etcd v3 over its JSON gateway: request bodies and response parsing.
//
// etcd 3.4 serves the gRPC API as JSON at /v3/... (and /v3beta/...). Keys and
// values are base64 in both directions; 64-bit numbers (revisions, lease ids,
// TTLs) come back as JSON strings, and fields equal to their default (a PUT
// event's type, a keepalive's TTL of 0) are left out. Pure functions, no I/O,
// so every shape is unit tested without an etcd (tests/unit/etcd_codec_test.cpp).
//
// Threading: no state; callable from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tern::cluster::etcd {

std::string base64_encode(std::string_view bytes);
// nullopt when `text` is not valid (padded) base64.
std::optional<std::string> base64_decode(std::string_view text);

// The range_end that makes [prefix, range_end) every key starting with
// prefix: the prefix with its last byte below 0xff incremented (etcd's rule);
// "\0" (all keys) when every byte is 0xff or the prefix is empty.
std::string prefix_end(std::string_view prefix);

// Splits "etcd://h1:p1,h2:p2" (also "http://", "etcd://" per item, or bare
// "h:p") into base URLs "http://h1:p1". Empty items are skipped.
std::vector<std::string> parse_endpoints(std::string_view spec);

// Request bodies (JSON text). `path()` of each request is below.
std::string grant_body(int64_t ttl);
std::string revoke_body(int64_t lease);
std::string keepalive_body(int64_t lease);
std::string put_body(std::string_view key, std::string_view value, int64_t lease);
std::string range_body(std::string_view key, std::string_view range_end);
std::string delete_body(std::string_view key, std::string_view range_end);
std::string watch_body(std::string_view key, std::string_view range_end, int64_t start_revision);

struct kv {
  std::string key;
  std::string value;
  int64_t lease = 0;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
};

struct event {
  bool put = true;  // false: DELETE (value empty)
  etcd::kv kv;
};

// One answer of any kind; which fields are set depends on the request.
struct result {
  bool ok = false;
  std::string error;                // when !ok: etcd's message, or the transport's
  int64_t revision = 0;             // header.revision: the store's revision at the answer
  int64_t lease = 0;                // grant, keepalive: the lease id
  int64_t ttl = 0;                  // grant, keepalive: seconds left; keepalive 0 = lease gone
  int64_t deleted = 0;              // delete: keys removed
  std::vector<etcd::kv> kvs;        // range
  std::vector<etcd::event> events;  // watch
  bool created = false;             // watch: the watch is set up
  bool canceled = false;            // watch: etcd ended it (compaction, error)
  int64_t compact_revision = 0;     // watch canceled because start_revision was compacted
};

enum class kind { grant, revoke, keepalive, put, range, del, watch };

// The gateway path of a request kind, e.g. "/v3/kv/put".
const char* path(kind k);

// Parses a unary answer (HTTP body with its status). A non-200 status or an
// {"error": ...} body gives ok = false with etcd's message.
result parse_response(kind k, long http_status, std::string_view body);

// Parses one line of a watch stream ({"result": {...}} or {"error": {...}}).
result parse_watch_line(std::string_view line);

}  // namespace tern::cluster::etcd
