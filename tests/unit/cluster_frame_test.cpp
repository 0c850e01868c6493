// src/cluster: frames written by message_packer and read back by
// frame_decoder (split, reassembled, interleaved, fed in any cut), the checks
// against bad streams, and the handshake's proofs.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "cluster/frame.hpp"
#include "cluster/frame_decoder.hpp"
#include "cluster/handshake.hpp"
#include "tern/core/types.hpp"

namespace tern::cluster {
namespace {

std::string pattern(size_t n, unsigned seed) {
  std::string s(n, '\0');
  std::mt19937 rng(seed);
  for (auto& c : s) c = char(rng());
  return s;
}

std::string pack(kind k, uint32_t session, const target* t, const std::string& payload) {
  message_packer p(k, session, t, payload.data(), payload.size());
  std::string out(p.bytes(0, p.count()), '\0');
  char* end = p.write(out.data(), 0, p.count());
  EXPECT_EQ(end, out.data() + out.size());
  return out;
}

// Takes a decoded message's bytes (and frees them).
std::string take(decoded& d) {
  std::string s(d.data ? d.data : "", d.size);
  mem_free(d.data);
  d.data = nullptr;
  return s;
}

std::string drain_error(frame_decoder& d) {
  decoded out;
  frame_decoder::status s;
  while ((s = d.next(out)) == frame_decoder::status::message) take(out);
  EXPECT_EQ(s, frame_decoder::status::error);
  return d.error();
}

TEST(ClusterFrame, SmallCallIsOneFrameWithItsTarget) {
  target t{0x0100000a, {}};
  std::string f = pack(kind::call, 7, &t, "hello");
  // length, kind, session, tag 0, handle, total, payload
  ASSERT_EQ(f.size(), 4 + 1 + 4 + 1 + 4 + 4 + 5u);
  EXPECT_EQ(get_u32(f.data()), f.size() - 4);
  EXPECT_EQ(uint8_t(f[4]), 0x01);
  EXPECT_EQ(get_u32(f.data() + 5), 7u);
  EXPECT_EQ(f[9], 0);
  EXPECT_EQ(get_u32(f.data() + 10), 0x0100000au);
  EXPECT_EQ(get_u32(f.data() + 14), 5u);
  EXPECT_EQ(f.substr(18), "hello");

  frame_decoder d(role::server, limits{});
  d.ready();
  d.feed(f.data(), f.size());
  decoded out;
  ASSERT_EQ(d.next(out), frame_decoder::status::message);
  EXPECT_EQ(out.k, kind::call);
  EXPECT_EQ(out.session, 7u);
  EXPECT_EQ(out.handle, 0x0100000au);
  EXPECT_TRUE(out.name.empty());
  EXPECT_EQ(take(out), "hello");
  EXPECT_EQ(d.next(out), frame_decoder::status::need_more);
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(ClusterFrame, NamedSendAndEmptyPayload) {
  target t{0, "@echo"};
  std::string f = pack(kind::send, 1, &t, "");
  frame_decoder d(role::server, limits{});
  d.ready();
  d.feed(f.data(), f.size());
  decoded out;
  ASSERT_EQ(d.next(out), frame_decoder::status::message);
  EXPECT_EQ(out.k, kind::send);
  EXPECT_EQ(out.name, "@echo");
  EXPECT_EQ(out.data, nullptr);
  EXPECT_EQ(out.size, 0u);
}

TEST(ClusterFrame, LargeMessageIsSplitAndReassembledFedByteByByteInPlaces) {
  std::string big = pattern(3 * kChunk + 1234, 1);
  std::string f = pack(kind::ok, 42, nullptr, big);
  message_packer p(kind::ok, 42, nullptr, big.data(), big.size());
  EXPECT_EQ(p.count(), 4u);
  EXPECT_EQ(f.size(), big.size() + 4 * kHeaderBytes + 4);

  frame_decoder d(role::client, limits{});
  d.ready();
  decoded out;
  // The first 100 bytes one at a time, then chunks of a prime size.
  size_t pos = 0;
  for (; pos < 100; ++pos) {
    d.feed(f.data() + pos, 1);
    ASSERT_EQ(d.next(out), frame_decoder::status::need_more);
  }
  int messages = 0;
  while (pos < f.size()) {
    size_t n = std::min<size_t>(7919, f.size() - pos);
    d.feed(f.data() + pos, n);
    pos += n;
    while (d.next(out) == frame_decoder::status::message) {
      ++messages;
      EXPECT_EQ(out.k, kind::ok);
      EXPECT_EQ(out.session, 42u);
      EXPECT_EQ(take(out), big);
    }
  }
  EXPECT_EQ(messages, 1);
  EXPECT_EQ(d.partial_messages(), 0u);
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(ClusterFrame, PackedInGroupsEqualsPackedWhole) {
  std::string big = pattern(5 * kChunk, 2);
  message_packer p(kind::err, 3, nullptr, big.data(), big.size());
  std::string whole = pack(kind::err, 3, nullptr, big);
  std::string groups;
  for (size_t first = 0; first < p.count(); first += 2) {
    std::string g(p.bytes(first, 2), '\0');
    p.write(g.data(), first, 2);
    groups += g;
  }
  EXPECT_EQ(groups, whole);
}

TEST(ClusterFrame, InterleavedRepliesOfDifferentSessions) {
  std::string a = pattern(2 * kChunk + 10, 3), b = pattern(kChunk + 1, 4);
  message_packer pa(kind::ok, 1, nullptr, a.data(), a.size());
  message_packer pb(kind::ok, 2, nullptr, b.data(), b.size());
  auto frame_of = [](const message_packer& p, size_t i) {
    std::string s(p.bytes(i, 1), '\0');
    p.write(s.data(), i, 1);
    return s;
  };
  std::string small = pack(kind::err, 9, nullptr, "nope");
  std::string stream = frame_of(pa, 0) + frame_of(pb, 0) + small + frame_of(pa, 1) +
                       frame_of(pb, 1) + frame_of(pa, 2);
  frame_decoder d(role::client, limits{});
  d.ready();
  d.feed(stream.data(), stream.size());
  decoded out;
  ASSERT_EQ(d.next(out), frame_decoder::status::message);
  EXPECT_EQ(out.k, kind::err);
  EXPECT_EQ(take(out), "nope");
  EXPECT_EQ(d.partial_messages(), 2u);
  ASSERT_EQ(d.next(out), frame_decoder::status::message);
  EXPECT_EQ(out.session, 2u);
  EXPECT_EQ(take(out), b);
  ASSERT_EQ(d.next(out), frame_decoder::status::message);
  EXPECT_EQ(out.session, 1u);
  EXPECT_EQ(take(out), a);
}

TEST(ClusterFrame, GarbageIsRefusedByItsLength) {
  frame_decoder d(role::server, limits{});
  d.ready();
  std::string g = "GET / HTTP/1.1\r\n\r\n";
  d.feed(g.data(), g.size());
  EXPECT_NE(drain_error(d).find("oversized frame"), std::string::npos) << d.error();
  // Final: more bytes change nothing.
  std::string ok = pack(kind::call, 1, nullptr, "x");
  d.feed(ok.data(), ok.size());
  decoded out;
  EXPECT_EQ(d.next(out), frame_decoder::status::error);
}

TEST(ClusterFrame, BadLengthsAndKinds) {
  {
    frame_decoder d(role::server, limits{});
    d.ready();
    std::string f("\0\0\0\3abc", 7);
    d.feed(f.data(), f.size());
    EXPECT_NE(drain_error(d).find("below the minimum"), std::string::npos);
  }
  {
    frame_decoder d(role::server, limits{});
    d.ready();
    std::string f = control_frame(kind::hello, "x");  // a client-bound kind at a server
    d.feed(f.data(), 5);                              // refused as soon as the kind byte is there
    EXPECT_NE(drain_error(d).find("unexpected frame kind 0x10"), std::string::npos);
  }
  {
    frame_decoder d(role::client, limits{});
    d.ready();
    std::string f = pack(kind::call, 1, nullptr, "x");  // a server-bound kind at a client
    d.feed(f.data(), f.size());
    EXPECT_NE(drain_error(d).find("unexpected frame kind 0x01"), std::string::npos);
  }
  {
    frame_decoder d(role::server, limits{});
    d.ready();
    std::string f("\0\0\0\5\x7f\0\0\0\0", 9);
    d.feed(f.data(), f.size());
    EXPECT_NE(drain_error(d).find("0x7f"), std::string::npos);
  }
}

TEST(ClusterFrame, ContinuationChecks) {
  std::string big = pattern(kChunk + 100, 5);
  message_packer p(kind::call, 5, nullptr, big.data(), big.size());
  std::string first(p.bytes(0, 1), '\0'), second(p.bytes(1, 1), '\0');
  p.write(first.data(), 0, 1);
  p.write(second.data(), 1, 1);
  {
    frame_decoder d(role::server, limits{});
    d.ready();
    d.feed(second.data(), second.size());  // MORE with nothing begun
    EXPECT_NE(drain_error(d).find("no message in progress"), std::string::npos);
  }
  {
    frame_decoder d(role::server, limits{});
    d.ready();
    d.feed(first.data(), first.size());
    d.feed(first.data(), first.size());  // the same session begun twice
    EXPECT_NE(drain_error(d).find("already has a message in progress"), std::string::npos);
  }
  {
    // A MORE longer than what is missing.
    frame_decoder d(role::server, limits{});
    d.ready();
    d.feed(first.data(), first.size());
    std::string over = std::string("\0\0\0\0", 4) + char(kind::more) + std::string("\0\0\0\5", 4) +
                       std::string(200, 'x');
    put_u32(over.data(), uint32_t(5 + 200));
    d.feed(over.data(), over.size());
    EXPECT_NE(drain_error(d).find("overflows"), std::string::npos);
  }
  {
    // A first frame that claims more bytes than it carries must carry a full chunk.
    frame_decoder d(role::server, limits{});
    d.ready();
    std::string f = pack(kind::call, 1, nullptr, "abc");
    put_u32(f.data() + 14, 1000);  // total
    d.feed(f.data(), f.size());
    EXPECT_NE(drain_error(d).find("split message"), std::string::npos);
  }
}

TEST(ClusterFrame, MessageAndPartialLimits) {
  limits l;
  l.max_message = 100 * 1024;
  l.max_partial = 150 * 1024;
  std::string big = pattern(200 * 1024, 6);
  {
    frame_decoder d(role::server, l);
    d.ready();
    std::string f = pack(kind::call, 1, nullptr, big);
    d.feed(f.data(), f.size());
    EXPECT_NE(drain_error(d).find("over the limit of 102400"), std::string::npos) << d.error();
  }
  {
    // Two 80 KiB messages begun at once: 160 KiB announced is over 150 KiB.
    frame_decoder d(role::server, l);
    d.ready();
    std::string m = pattern(80 * 1024, 7);
    message_packer a(kind::call, 1, nullptr, m.data(), m.size());
    message_packer b(kind::call, 2, nullptr, m.data(), m.size());
    std::string fa(a.bytes(0, 1), '\0'), fb(b.bytes(0, 1), '\0');
    a.write(fa.data(), 0, 1);
    b.write(fb.data(), 0, 1);
    d.feed(fa.data(), fa.size());
    decoded out;
    EXPECT_EQ(d.next(out), frame_decoder::status::need_more);
    d.feed(fb.data(), fb.size());
    EXPECT_NE(drain_error(d).find("messages in progress"), std::string::npos) << d.error();
  }
}

TEST(ClusterFrame, TruncatedFrameIsVisibleAsBuffered) {
  std::string f = pack(kind::call, 1, nullptr, "0123456789");
  frame_decoder d(role::server, limits{});
  d.ready();
  d.feed(f.data(), f.size() - 3);
  decoded out;
  EXPECT_EQ(d.next(out), frame_decoder::status::need_more);
  EXPECT_EQ(d.buffered(), f.size() - 3);
}

TEST(ClusterFrame, BadTargets) {
  {
    frame_decoder d(role::server, limits{});
    d.ready();
    std::string f = pack(kind::call, 1, nullptr, "x");
    f[9] = 7;  // tag
    d.feed(f.data(), f.size());
    EXPECT_NE(drain_error(d).find("unknown target tag 7"), std::string::npos);
  }
  {
    frame_decoder d(role::server, limits{});
    d.ready();
    target t{0, std::string_view("a\0b", 3)};
    std::string f = pack(kind::call, 1, &t, "x");
    d.feed(f.data(), f.size());
    EXPECT_NE(drain_error(d).find("NUL"), std::string::npos);
  }
}

TEST(ClusterHandshake, HelloJoinWelcomeRoundTrip) {
  hello h;
  h.auth = true;
  h.server_nonce = random_nonce();
  hello h2;
  ASSERT_TRUE(decode(encode(h), h2, nullptr));
  EXPECT_TRUE(h2.auth);
  EXPECT_EQ(h2.server_nonce, h.server_nonce);

  join j;
  j.client_nonce = random_nonce();
  j.has_mac = true;
  j.proof = join_mac("s3cret", h.server_nonce, j.client_nonce);
  j.name = "node-a";
  join j2;
  ASSERT_TRUE(decode(encode(j), j2, nullptr));
  EXPECT_EQ(j2.name, "node-a");
  EXPECT_EQ(check_join(j2, h.server_nonce, "s3cret"), std::nullopt);

  auto refused = check_join(j2, h.server_nonce, "other");
  ASSERT_TRUE(refused);
  EXPECT_NE(refused->find("authentication failed"), std::string::npos);
  // A proof for another server nonce (a replay) fails too.
  EXPECT_TRUE(check_join(j2, random_nonce(), "s3cret"));
  // The welcome proof is not the join proof (no reflection).
  EXPECT_FALSE(same_mac(welcome_mac("s3cret", h.server_nonce, j.client_nonce), j.proof));
}

TEST(ClusterHandshake, SecretOnOneSideOnly) {
  nonce ns = random_nonce();
  join j;
  j.client_nonce = random_nonce();
  EXPECT_TRUE(check_join(j, ns, "s3cret"));  // no mac, server has a secret
  j.has_mac = true;
  EXPECT_TRUE(check_join(j, ns, ""));  // mac, server has none
  j.has_mac = false;
  EXPECT_EQ(check_join(j, ns, ""), std::nullopt);
  j.version = 2;
  EXPECT_TRUE(check_join(j, ns, ""));
}

TEST(ClusterHandshake, MalformedBodies) {
  std::string why;
  hello h;
  EXPECT_FALSE(decode(std::string_view("HTTP/1.1 200 OK"), h, &why));
  EXPECT_NE(why.find("bad magic"), std::string::npos);
  join j;
  std::string cut = encode(join{}).substr(0, 20);
  EXPECT_FALSE(decode(cut, j, &why));
  EXPECT_NE(why.find("cut short"), std::string::npos);
}

TEST(ClusterHandshake, MacIsDeterministicAndOrderSensitive) {
  // The same inputs give the same proof; swapping the nonces gives another.
  nonce a{}, b{};
  for (size_t i = 0; i < a.size(); ++i) {
    a[i] = uint8_t(i);
    b[i] = uint8_t(0xff - i);
  }
  mac m1 = join_mac("key", a, b), m2 = join_mac("key", a, b), m3 = join_mac("key", b, a);
  EXPECT_TRUE(same_mac(m1, m2));
  EXPECT_FALSE(same_mac(m1, m3));
  // Known answer, from Python's hmac module:
  // hmac.new(b"key", b"tern-cluster-1 join" + a + b, hashlib.sha256)
  const char* want = "39128e4d535f2579ba740f5125e972aad2d039e6d05ddb33381bd7436b3bea8f";
  std::string hex;
  for (uint8_t byte : m1) {
    const char* digits = "0123456789abcdef";
    hex += digits[byte >> 4];
    hex += digits[byte & 15];
  }
  EXPECT_EQ(hex, want);
}

}  // namespace
}  // namespace tern::cluster

namespace tern::cluster {
namespace {

TEST(ClusterFrame, BeforeReadyOnlyTheHandshakeIsAccepted) {
  std::string call = pack(kind::call, 1, nullptr, "x");
  {
    frame_decoder d(role::server, limits{});
    d.feed(call.data(), call.size());  // a call before JOIN
    EXPECT_NE(drain_error(d).find("unexpected frame kind 0x01"), std::string::npos);
  }
  {
    frame_decoder d(role::server, limits{});
    std::string j = control_frame(kind::join, encode(join{})) + call;
    d.feed(j.data(), j.size());
    decoded out;
    ASSERT_EQ(d.next(out), frame_decoder::status::message);
    EXPECT_EQ(out.k, kind::join);
    join parsed;
    EXPECT_TRUE(decode(out.body, parsed, nullptr));
    d.ready();  // the call right behind the JOIN is read after ready()
    ASSERT_EQ(d.next(out), frame_decoder::status::message);
    EXPECT_EQ(out.k, kind::call);
    EXPECT_EQ(take(out), "x");
    std::string again = control_frame(kind::join, encode(join{}));
    d.feed(again.data(), again.size());  // and no second JOIN
    EXPECT_NE(drain_error(d).find("0x11"), std::string::npos);
  }
  {
    frame_decoder d(role::client, limits{});
    std::string reply = pack(kind::ok, 1, nullptr, "x");
    d.feed(reply.data(), reply.size());  // a reply before WELCOME
    EXPECT_NE(drain_error(d).find("0x03"), std::string::npos);
  }
}

}  // namespace
}  // namespace tern::cluster
