// etcd's JSON gateway: request bodies and response parsing, no etcd needed.
// The response texts are what etcd 3.4 answered (captured with curl).
#include "cluster/etcd_codec.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace etcd = tern::cluster::etcd;
using json = nlohmann::json;

TEST(EtcdCodec, Base64RoundTrip) {
  EXPECT_EQ(etcd::base64_encode(""), "");
  EXPECT_EQ(etcd::base64_encode("f"), "Zg==");
  EXPECT_EQ(etcd::base64_encode("fo"), "Zm8=");
  EXPECT_EQ(etcd::base64_encode("foo"), "Zm9v");
  EXPECT_EQ(etcd::base64_encode("/tern/a"), "L3Rlcm4vYQ==");
  std::string binary("\x00\xff\x10\x80 z", 6);
  auto back = etcd::base64_decode(etcd::base64_encode(binary));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, binary);
  EXPECT_EQ(*etcd::base64_decode("MTI3LjAuMC4xOjE="), "127.0.0.1:1");
  EXPECT_EQ(*etcd::base64_decode("Zg=="), "f");
  EXPECT_EQ(*etcd::base64_decode(""), "");
  EXPECT_FALSE(etcd::base64_decode("Zg="));   // not a multiple of 4
  EXPECT_FALSE(etcd::base64_decode("Z!g="));  // not the alphabet
}

TEST(EtcdCodec, PrefixEnd) {
  EXPECT_EQ(etcd::prefix_end("/tern/"), "/tern0");
  EXPECT_EQ(etcd::prefix_end("a"), "b");
  EXPECT_EQ(etcd::prefix_end(std::string("a\xff", 2)), "b");
  EXPECT_EQ(etcd::prefix_end(std::string("\xff\xff", 2)), std::string(1, '\0'));
  EXPECT_EQ(etcd::prefix_end(""), std::string(1, '\0'));
}

TEST(EtcdCodec, Endpoints) {
  using v = std::vector<std::string>;
  EXPECT_EQ(etcd::parse_endpoints("etcd://127.0.0.1:2379"), v{"http://127.0.0.1:2379"});
  EXPECT_EQ(etcd::parse_endpoints("etcd://127.0.0.1:1,127.0.0.1:2"),
            (v{"http://127.0.0.1:1", "http://127.0.0.1:2"}));
  EXPECT_EQ(etcd::parse_endpoints(" etcd://a:1/ , http://b:2,, c:3 "),
            (v{"http://a:1", "http://b:2", "http://c:3"}));
  EXPECT_TRUE(etcd::parse_endpoints("").empty());
  EXPECT_TRUE(etcd::parse_endpoints("etcd://").empty());
}

TEST(EtcdCodec, RequestBodies) {
  EXPECT_EQ(json::parse(etcd::grant_body(10)), json::parse(R"({"TTL":"10","ID":"0"})"));
  EXPECT_EQ(json::parse(etcd::keepalive_body(4111120337796371205)),
            json::parse(R"({"ID":"4111120337796371205"})"));
  EXPECT_EQ(json::parse(etcd::revoke_body(7)), json::parse(R"({"ID":"7"})"));
  EXPECT_EQ(json::parse(etcd::put_body("/tern/a", "127.0.0.1:1", 0)),
            json::parse(R"({"key":"L3Rlcm4vYQ==","value":"MTI3LjAuMC4xOjE="})"));
  EXPECT_EQ(json::parse(etcd::put_body("k", "", 42)),
            json::parse(R"({"key":"aw==","value":"","lease":"42"})"));
  EXPECT_EQ(json::parse(etcd::range_body("/tern/", "/tern0")),
            json::parse(R"({"key":"L3Rlcm4v","range_end":"L3Rlcm4w"})"));
  EXPECT_EQ(json::parse(etcd::range_body("k", "")), json::parse(R"({"key":"aw=="})"));
  EXPECT_EQ(json::parse(etcd::delete_body("k", "l")),
            json::parse(R"({"key":"aw==","range_end":"bA=="})"));
  EXPECT_EQ(
      json::parse(etcd::watch_body("/tern/", "/tern0", 5)),
      json::parse(
          R"({"create_request":{"key":"L3Rlcm4v","range_end":"L3Rlcm4w","start_revision":"5"}})"));
  EXPECT_EQ(json::parse(etcd::watch_body("k", "", 0)),
            json::parse(R"({"create_request":{"key":"aw=="}})"));
  EXPECT_STREQ(etcd::path(etcd::kind::watch), "/v3/watch");
  EXPECT_STREQ(etcd::path(etcd::kind::del), "/v3/kv/deleterange");
}

constexpr const char* kHeader =
    R"("header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"7","raft_term":"2"})";

TEST(EtcdCodec, GrantAndKeepalive) {
  auto r = etcd::parse_response(
      etcd::kind::grant, 200,
      std::string("{") + kHeader + R"(,"ID":"4111120337796371205","TTL":"5"})");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.lease, 4111120337796371205);
  EXPECT_EQ(r.ttl, 5);
  EXPECT_EQ(r.revision, 7);

  r = etcd::parse_response(etcd::kind::keepalive, 200,
                           std::string(R"({"result":{)") + kHeader + R"(,"ID":"12","TTL":"3"}})");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.lease, 12);
  EXPECT_EQ(r.ttl, 3);
  // An unknown or expired lease: TTL 0 is left out.
  r = etcd::parse_response(etcd::kind::keepalive, 200,
                           std::string(R"({"result":{)") + kHeader + R"(,"ID":"12345"}})");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.ttl, 0);
}

TEST(EtcdCodec, Range) {
  auto r = etcd::parse_response(
      etcd::kind::range, 200,
      std::string("{") + kHeader +
          R"(,"kvs":[{"key":"L3Rlcm4vYQ==","create_revision":"2","mod_revision":"3","version":"1","value":"MTI3LjAuMC4xOjE=","lease":"99"},)"
          R"({"key":"aw==","create_revision":"4","mod_revision":"4","version":"1"}],"count":"2"})");
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_EQ(r.kvs.size(), 2u);
  EXPECT_EQ(r.kvs[0].key, "/tern/a");
  EXPECT_EQ(r.kvs[0].value, "127.0.0.1:1");
  EXPECT_EQ(r.kvs[0].lease, 99);
  EXPECT_EQ(r.kvs[0].mod_revision, 3);
  EXPECT_EQ(r.kvs[1].key, "k");
  EXPECT_EQ(r.kvs[1].value, "");  // an empty value is left out
  // No keys: "kvs" is left out.
  r = etcd::parse_response(etcd::kind::range, 200, std::string("{") + kHeader + "}");
  ASSERT_TRUE(r.ok);
  EXPECT_TRUE(r.kvs.empty());
  EXPECT_EQ(r.revision, 7);
}

TEST(EtcdCodec, DeleteAndErrors) {
  auto r =
      etcd::parse_response(etcd::kind::del, 200, std::string("{") + kHeader + R"(,"deleted":"1"})");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.deleted, 1);

  r = etcd::parse_response(
      etcd::kind::put, 404,
      R"({"error":"etcdserver: requested lease not found","message":"etcdserver: requested lease not found","code":5})");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "etcdserver: requested lease not found");

  r = etcd::parse_response(etcd::kind::range, 503, "Service Unavailable");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("503"), std::string::npos);

  r = etcd::parse_response(etcd::kind::range, 200, R"({"kvs":[{"key":"not base64!"}]})");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("base64"), std::string::npos);

  r = etcd::parse_response(etcd::kind::keepalive, 200, "{}");
  EXPECT_FALSE(r.ok);
}

TEST(EtcdCodec, WatchLines) {
  auto r = etcd::parse_watch_line(std::string(R"({"result":{)") + kHeader + R"(,"created":true}})");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.created);
  EXPECT_TRUE(r.events.empty());

  // A PUT's type is left out (the enum's default); DELETE is named.
  r = etcd::parse_watch_line(
      std::string(R"({"result":{)") + kHeader +
      R"(,"events":[{"kv":{"key":"L3Rlcm4vYg==","create_revision":"4","mod_revision":"4","version":"1","value":"eA==","lease":"41"}},)"
      R"({"type":"DELETE","kv":{"key":"L3Rlcm4vYQ==","mod_revision":"5"}}]}})");
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_EQ(r.events.size(), 2u);
  EXPECT_TRUE(r.events[0].put);
  EXPECT_EQ(r.events[0].kv.key, "/tern/b");
  EXPECT_EQ(r.events[0].kv.value, "x");
  EXPECT_EQ(r.events[0].kv.lease, 41);
  EXPECT_FALSE(r.events[1].put);
  EXPECT_EQ(r.events[1].kv.key, "/tern/a");
  EXPECT_EQ(r.revision, 7);

  r = etcd::parse_watch_line(std::string(R"({"result":{)") + kHeader +
                             R"(,"canceled":true,"compact_revision":"3"}})");
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(r.canceled);
  EXPECT_EQ(r.compact_revision, 3);
  EXPECT_NE(r.error.find("compacted at 3"), std::string::npos);

  r = etcd::parse_watch_line(
      R"({"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader"}})");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("no leader"), std::string::npos);

  EXPECT_FALSE(etcd::parse_watch_line("{\"result\":").ok);
  EXPECT_FALSE(etcd::parse_watch_line("[]").ok);
}
