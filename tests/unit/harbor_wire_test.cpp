// net/harbor_wire: the frames of a harbor link, and the reader that cuts a
// link's bytes into the hello and messages, with bad input of every kind.
#include "net/harbor_wire.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace tern::net::harbor_wire {
namespace {

struct got_message {
  trailer t;
  std::string payload;
};

struct collector {
  std::vector<uint8_t> hellos;
  std::vector<got_message> messages;
  int refuse_hello_from = -1;

  link_reader::sink sink() {
    return {[](void* u, uint8_t id, std::string* why) {
              auto* c = static_cast<collector*>(u);
              if (id == c->refuse_hello_from) {
                *why = "refused";
                return false;
              }
              c->hellos.push_back(id);
              return true;
            },
            [](void* u, const trailer& t, char* bytes, uint32_t n) {
              static_cast<collector*>(u)->messages.push_back({t, std::string(bytes, n)});
              mem_free(bytes);  // the sink owns the bytes
            },
            this};
  }
};

// A mem_alloc copy of s, as the socket thread hands reads over.
char* buffer_of(const std::string& s) {
  auto* p = static_cast<char*>(mem_alloc(s.size() ? s.size() : 1));
  if (!s.empty()) std::memcpy(p, s.data(), s.size());
  return p;
}

std::string hello_bytes(uint8_t id) {
  char h[kHelloBytes];
  encode_hello(id, h);
  return {h, kHelloBytes};
}

std::string frame_bytes(const trailer& t, const std::string& payload) {
  size_t n = 0;
  char* f = encode_frame(t, payload.data(), payload.size(), &n);
  std::string out(f, n);
  mem_free(f);
  return out;
}

bool feed(link_reader& r, collector& c, const std::string& bytes, std::string* why) {
  return r.feed(buffer_of(bytes), bytes.size(), c.sink(), why);
}

TEST(HarborWire, HelloRoundTrip) {
  std::string h = hello_bytes(42);
  ASSERT_EQ(h.size(), 10u);
  EXPECT_EQ(h, std::string("\0\0\0\6THRB\1\x2a", 10));
  uint8_t id = 0;
  std::string why;
  ASSERT_TRUE(decode_hello(h.data(), &id, &why));
  EXPECT_EQ(id, 42);
}

TEST(HarborWire, HelloRefusals) {
  uint8_t id = 0;
  std::string why;
  std::string h = hello_bytes(3);
  h[5] = 'X';
  EXPECT_FALSE(decode_hello(h.data(), &id, &why));
  EXPECT_EQ(why, "bad hello (not a tern harbor link)");
  h = hello_bytes(3);
  h[8] = 2;
  EXPECT_FALSE(decode_hello(h.data(), &id, &why));
  EXPECT_EQ(why, "hello of wire version 2, this node speaks 1");
  h = hello_bytes(0);
  EXPECT_FALSE(decode_hello(h.data(), &id, &why));
  EXPECT_EQ(why, "hello from harbor 0");
}

TEST(HarborWire, FrameLayoutIsBigEndianWithTrailer) {
  trailer t{0x01000002, 0x02000003, -5, 0x0a};
  std::string f = frame_bytes(t, "hi");
  std::string expect("\0\0\0\x10" "hi" "\x01\0\0\x02" "\x02\0\0\x03" "\xff\xff\xff\xfb" "\0\x0a", 20);
  EXPECT_EQ(f, expect);
  trailer back = decode_trailer(f.data() + 6);
  EXPECT_EQ(back.source, t.source);
  EXPECT_EQ(back.destination, t.destination);
  EXPECT_EQ(back.session, -5);
  EXPECT_EQ(back.type, 0x0a);
}

TEST(HarborWire, HelloThenFramesInOneRead) {
  link_reader r(true);
  collector c;
  std::string bytes = hello_bytes(7) + frame_bytes({1, 2, 3, 10}, "first") +
                      frame_bytes({4, 5, 6, 1}, "") + frame_bytes({7, 8, 9, 0}, std::string(5000, 'z'));
  std::string why;
  ASSERT_TRUE(feed(r, c, bytes, &why)) << why;
  ASSERT_EQ(c.hellos, std::vector<uint8_t>{7});
  ASSERT_EQ(c.messages.size(), 3u);
  EXPECT_EQ(c.messages[0].payload, "first");
  EXPECT_EQ(c.messages[0].t.session, 3);
  EXPECT_EQ(c.messages[1].payload, "");
  EXPECT_EQ(c.messages[1].t.type, 1);
  EXPECT_EQ(c.messages[2].payload, std::string(5000, 'z'));
  EXPECT_TRUE(r.idle());
}

TEST(HarborWire, ByteByByte) {
  link_reader r(true);
  collector c;
  std::string bytes = hello_bytes(9) + frame_bytes({1, 0x01000001, 3, 10}, "abc") +
                      frame_bytes({2, 0x01000001, 4, 10}, "defg");
  std::string why;
  for (size_t i = 0; i < bytes.size(); ++i) {
    ASSERT_TRUE(feed(r, c, bytes.substr(i, 1), &why)) << "at byte " << i << ": " << why;
    // Idle exactly at the ends of the hello (10 bytes) and of each frame (21, 22).
    bool boundary = i + 1 == 10 || i + 1 == 31 || i + 1 == bytes.size();
    EXPECT_EQ(r.idle(), boundary) << "after byte " << i;
  }
  EXPECT_TRUE(r.idle());
  ASSERT_EQ(c.messages.size(), 2u);
  EXPECT_EQ(c.messages[0].payload, "abc");
  EXPECT_EQ(c.messages[1].payload, "defg");
  EXPECT_EQ(c.messages[1].t.source, 2u);
}

TEST(HarborWire, LargePayloadAsThreeBuffers) {
  // What the harbor service sends for payloads over its copy limit.
  std::string payload(100000, 'q');
  trailer t{11, 0x02000001, 77, 10};
  char prefix[kPrefixBytes], tail[kTrailerBytes];
  encode_prefix(uint32_t(payload.size()), prefix);
  encode_trailer(t, tail);
  std::string bytes = std::string(prefix, kPrefixBytes) + payload + std::string(tail, kTrailerBytes);
  EXPECT_EQ(bytes, frame_bytes(t, payload));
  link_reader r(false);
  collector c;
  std::string why;
  // In uneven reads, as TCP would deliver them.
  size_t at = 0;
  for (size_t step : {3u, 4000u, 65536u, 100000u}) {
    size_t n = std::min(step, bytes.size() - at);
    ASSERT_TRUE(feed(r, c, bytes.substr(at, n), &why)) << why;
    at += n;
  }
  ASSERT_EQ(at, bytes.size());
  ASSERT_EQ(c.messages.size(), 1u);
  EXPECT_EQ(c.messages[0].payload, payload);
  EXPECT_EQ(c.messages[0].t.session, 77);
}

TEST(HarborWire, GarbageInsteadOfHelloFailsAtOnce) {
  link_reader r(true);
  collector c;
  std::string why;
  EXPECT_FALSE(feed(r, c, "G", &why));  // the first byte already cannot start a hello
  EXPECT_EQ(why, "bad hello (not a tern harbor link)");
  link_reader r2(true);
  EXPECT_FALSE(feed(r2, c, std::string("\0\0\0\6EVIL\1\1", 10), &why));
  EXPECT_TRUE(c.hellos.empty());
}

TEST(HarborWire, RefusedHelloStopsTheLink) {
  link_reader r(true);
  collector c;
  c.refuse_hello_from = 4;
  std::string why;
  EXPECT_FALSE(feed(r, c, hello_bytes(4) + frame_bytes({1, 2, 3, 10}, "x"), &why));
  EXPECT_EQ(why, "refused");
  EXPECT_TRUE(c.messages.empty());
}

TEST(HarborWire, OversizedLength) {
  link_reader r(false);
  collector c;
  std::string why;
  std::string good = frame_bytes({1, 2, 3, 10}, "ok");
  EXPECT_FALSE(feed(r, c, good + std::string("\xff\xff\xff\xff", 4) + "junk", &why));
  EXPECT_EQ(why, "frame of 4294967295 bytes is over the limit (16777230 bytes)");
  ASSERT_EQ(c.messages.size(), 1u);  // what came before the bad frame was delivered
  // Exactly at the limit is a length the reader accepts (it waits for the bytes).
  link_reader r2(false);
  char prefix[kPrefixBytes];
  encode_prefix(kMaxPayload, prefix);
  EXPECT_TRUE(feed(r2, c, std::string(prefix, 4), &why)) << why;
  EXPECT_FALSE(r2.idle());
  encode_prefix(kMaxPayload + 1, prefix);
  link_reader r3(false);
  EXPECT_FALSE(feed(r3, c, std::string(prefix, 4), &why));
}

TEST(HarborWire, FrameShorterThanItsTrailer) {
  link_reader r(false);
  collector c;
  std::string why;
  std::string bad = std::string("\0\0\0\5", 4) + "abcde";
  EXPECT_FALSE(feed(r, c, bad + frame_bytes({1, 2, 3, 10}, "after"), &why));
  EXPECT_EQ(why, "frame of 5 bytes is shorter than its 14-byte trailer");
  EXPECT_TRUE(c.messages.empty());  // the frame after the bad one is not delivered
}

TEST(HarborWire, TruncatedFrameIsNotIdle) {
  link_reader r(false);
  collector c;
  std::string why;
  std::string f = frame_bytes({1, 2, 3, 10}, "complete me");
  ASSERT_TRUE(feed(r, c, f.substr(0, f.size() - 3), &why));
  EXPECT_FALSE(r.idle());  // a close now loses a frame: the harbor logs it as truncated
  EXPECT_TRUE(c.messages.empty());
  ASSERT_TRUE(feed(r, c, f.substr(f.size() - 3), &why));
  EXPECT_TRUE(r.idle());
  ASSERT_EQ(c.messages.size(), 1u);
  // A partial hello is not idle either.
  link_reader h(true);
  ASSERT_TRUE(feed(h, c, hello_bytes(2).substr(0, 6), &why));
  EXPECT_FALSE(h.idle());
}

}  // namespace
}  // namespace tern::net::harbor_wire
