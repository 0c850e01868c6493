#include "http/websocket.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tern::http::ws {
namespace {

using namespace std::string_literals;

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(char(c));
  return s;
}

// Records what a decoder reports, as strings: "text:...", "binary:<size>",
// "ping:...", "pong:...", "close:<code>:<reason>".
struct recorder {
  std::vector<std::string> events;
  std::vector<std::string> payloads;  // message payloads, whole
  decoder make(role r, limits lim = {}) {
    decoder::callbacks cb;
    cb.on_message = [this](opcode op, std::string_view p) {
      payloads.emplace_back(p);
      if (op == opcode::text)
        events.push_back("text:" + std::string(p));
      else
        events.push_back("binary:" + std::to_string(p.size()));
    };
    cb.on_control = [this](opcode op, std::string_view p) {
      events.push_back((op == opcode::ping ? "ping:" : "pong:") + std::string(p));
    };
    cb.on_close = [this](uint16_t code, std::string_view reason) {
      events.push_back("close:" + std::to_string(code) + ":" + std::string(reason));
    };
    return decoder(r, std::move(cb), lim);
  }
};

const mask_key kMask{0x37, 0xfa, 0x21, 0x3d};  // the RFC's example key

// Feeds a whole input to a decoder of the role; returns its error (0 if none).
uint16_t decode_error(role r, const std::string& in, limits lim = {}) {
  recorder rec;
  decoder d = rec.make(r, lim);
  d.feed(in);
  return d.error();
}

// A masked (client-to-server) frame.
std::string cframe(opcode op, std::string_view payload, bool fin = true) {
  return frame(op, payload, fin, &kMask);
}

// --- RFC 6455 section 5.7 examples ----------------------------------------------

TEST(WebSocketRfc, SingleFrameUnmaskedHello) {
  const std::string wire = bytes({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f});
  EXPECT_EQ(frame(opcode::text, "Hello"), wire);
  EXPECT_EQ(encoder(role::server).text("Hello"), wire);
  recorder rec;
  decoder d = rec.make(role::client);
  EXPECT_TRUE(d.feed(wire));
  EXPECT_EQ(rec.events, std::vector<std::string>{"text:Hello"});
  EXPECT_TRUE(d.idle());
}

TEST(WebSocketRfc, SingleFrameMaskedHello) {
  const std::string wire =
      bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
  EXPECT_EQ(frame(opcode::text, "Hello", true, &kMask), wire);
  encoder client(role::client, [] { return kMask; });
  EXPECT_EQ(client.text("Hello"), wire);
  recorder rec;
  decoder d = rec.make(role::server);
  EXPECT_TRUE(d.feed(wire));
  EXPECT_EQ(rec.events, std::vector<std::string>{"text:Hello"});
}

TEST(WebSocketRfc, FragmentedUnmaskedHello) {
  const std::string first = bytes({0x01, 0x03, 0x48, 0x65, 0x6c});
  const std::string second = bytes({0x80, 0x02, 0x6c, 0x6f});
  EXPECT_EQ(frame(opcode::text, "Hel", false), first);
  EXPECT_EQ(frame(opcode::continuation, "lo"), second);
  recorder rec;
  decoder d = rec.make(role::client);
  EXPECT_TRUE(d.feed(first));
  EXPECT_TRUE(rec.events.empty());
  EXPECT_FALSE(d.idle());
  EXPECT_EQ(d.buffered(), 3u);
  EXPECT_TRUE(d.feed(second));
  EXPECT_EQ(rec.events, std::vector<std::string>{"text:Hello"});
  EXPECT_TRUE(d.idle());
}

TEST(WebSocketRfc, PingAndMaskedPong) {
  const std::string ping = bytes({0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f});
  const std::string pong =
      bytes({0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
  EXPECT_EQ(encoder(role::server).ping("Hello"), ping);
  EXPECT_EQ(encoder(role::client, [] { return kMask; }).pong("Hello"), pong);
  recorder rc, rs;
  decoder client = rc.make(role::client);
  decoder server = rs.make(role::server);
  EXPECT_TRUE(client.feed(ping));
  EXPECT_TRUE(server.feed(pong));
  EXPECT_EQ(rc.events, std::vector<std::string>{"ping:Hello"});
  EXPECT_EQ(rs.events, std::vector<std::string>{"pong:Hello"});
}

TEST(WebSocketRfc, Binary256BytesLengthEncoding) {
  const std::string payload(256, 'x');
  const std::string f = frame(opcode::binary, payload);
  ASSERT_EQ(f.size(), 4u + 256u);
  EXPECT_EQ(f.substr(0, 4), bytes({0x82, 0x7E, 0x01, 0x00}));
  recorder rec;
  decoder d = rec.make(role::client);
  EXPECT_TRUE(d.feed(f));
  ASSERT_EQ(rec.payloads.size(), 1u);
  EXPECT_EQ(rec.payloads[0], payload);
}

TEST(WebSocketRfc, Binary64KiBLengthEncoding) {
  std::string payload(65536, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = char(i * 7);
  const std::string f = frame(opcode::binary, payload);
  ASSERT_EQ(f.size(), 10u + 65536u);
  EXPECT_EQ(f.substr(0, 10), bytes({0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}));
  recorder rec;
  decoder d = rec.make(role::client);
  EXPECT_TRUE(d.feed(f));
  ASSERT_EQ(rec.payloads.size(), 1u);
  EXPECT_EQ(rec.payloads[0], payload);
  // Masked, to a server.
  const std::string m = cframe(opcode::binary, payload);
  EXPECT_EQ(m.substr(0, 10), bytes({0x82, 0xFF, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}));
  recorder rs;
  decoder s = rs.make(role::server);
  EXPECT_TRUE(s.feed(m));
  ASSERT_EQ(rs.payloads.size(), 1u);
  EXPECT_EQ(rs.payloads[0], payload);
}

TEST(WebSocketRfc, LengthBoundaries) {
  for (size_t n : {0u, 125u, 126u, 127u, 65535u, 65536u, 65537u}) {
    const std::string f = frame(opcode::binary, std::string(n, 'a'));
    const size_t header = n < 126 ? 2 : n <= 65535 ? 4 : 10;
    EXPECT_EQ(f.size(), header + n) << n;
    recorder rec;
    decoder d = rec.make(role::client);
    EXPECT_TRUE(d.feed(f)) << n;
    ASSERT_EQ(rec.payloads.size(), 1u) << n;
    EXPECT_EQ(rec.payloads[0].size(), n);
  }
}

TEST(WebSocketHandshake, AcceptKeyRfcExample) {
  EXPECT_EQ(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WebSocketHandshake, ValidRequest) {
  const header h[] = {
      {"Host", "server.example.com"},        {"upgrade", "WebSocket"},
      {"CONNECTION", "keep-alive, upgrade"}, {"Sec-WebSocket-Key", " dGhlIHNhbXBsZSBub25jZQ== "},
      {"Origin", "http://example.com"},      {"Sec-WebSocket-Version", "13"}};
  handshake_result r = server_handshake(h);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.response,
            "HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
}

TEST(WebSocketHandshake, Rejections) {
  const header base[] = {{"Upgrade", "websocket"},
                         {"Connection", "Upgrade"},
                         {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                         {"Sec-WebSocket-Version", "13"}};
  auto with = [&](size_t i, std::string_view value) {
    std::vector<header> v(std::begin(base), std::end(base));
    v[i].second = value;
    return server_handshake(v);
  };
  auto without = [&](size_t i) {
    std::vector<header> v(std::begin(base), std::end(base));
    v.erase(v.begin() + long(i));
    return server_handshake(v);
  };
  EXPECT_EQ(server_handshake(base).status, 101);
  EXPECT_EQ(without(0).status, 400);
  EXPECT_EQ(with(0, "h2c").status, 400);
  EXPECT_EQ(without(1).status, 400);
  EXPECT_EQ(with(1, "keep-alive").status, 400);
  EXPECT_EQ(with(1, "Upgraded").status, 400);  // a token, not a substring
  EXPECT_EQ(without(2).status, 400);
  EXPECT_EQ(with(2, "dGhlIHNhbXBsZSBub25jZQ").status, 400);    // no padding
  EXPECT_EQ(with(2, "dGhlIHNhbXBsZSBub25jZR==").status, 400);  // 17th-byte bits set
  EXPECT_EQ(with(2, "dGhlIHNhbXBsZSBub2*jZQ==").status, 400);  // not base64
  EXPECT_EQ(with(2, "dGhlIHNhbXBsZSBub25jZSE=").status, 400);  // 17 bytes
  EXPECT_EQ(without(3).status, 426);
  handshake_result r = with(3, "8");
  EXPECT_EQ(r.status, 426);
  EXPECT_NE(r.response.find("HTTP/1.1 426 "), std::string::npos);
  EXPECT_NE(r.response.find("Sec-WebSocket-Version: 13\r\n"), std::string::npos);
  EXPECT_EQ(with(1, "Upgrade").response.substr(0, 13), "HTTP/1.1 101 ");
  // Two keys.
  std::vector<header> two(std::begin(base), std::end(base));
  two.push_back({"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="});
  EXPECT_EQ(server_handshake(two).status, 400);
  EXPECT_NE(without(0).response.find("HTTP/1.1 400 "), std::string::npos);
}

TEST(WebSocketHandshake, ValidKey) {
  EXPECT_TRUE(valid_key("AAAAAAAAAAAAAAAAAAAAAA=="));
  EXPECT_TRUE(valid_key("/////////////////////w=="));
  EXPECT_FALSE(valid_key("/////////////////////x=="));
  EXPECT_FALSE(valid_key(""));
}

// --- decoding rules ---------------------------------------------------------------

TEST(WebSocketDecoder, MessageFedOneByteAtATime) {
  std::string wire = cframe(opcode::text, "Hel", false);
  wire += cframe(opcode::ping, "p");
  wire += cframe(opcode::continuation, "l\xC3", false);  // a character cut across frames
  wire += cframe(opcode::continuation, "\xA9o");
  wire += cframe(opcode::binary, std::string(300, 'b'));
  wire += cframe(opcode::close, close_payload(1000, "bye"));
  recorder rec;
  decoder d = rec.make(role::server);
  for (char c : wire) ASSERT_TRUE(d.feed(std::string_view(&c, 1)));
  EXPECT_EQ(rec.events, (std::vector<std::string>{"ping:p", "text:Hell\xC3\xA9o", "binary:300",
                                                  "close:1000:bye"}));
  EXPECT_TRUE(d.closed());
  EXPECT_FALSE(d.failed());
}

TEST(WebSocketDecoder, FragmentationWithInterleavedPing) {
  std::string wire = frame(opcode::binary, "ab", false);
  wire += frame(opcode::ping, "1");
  wire += frame(opcode::continuation, "cd", false);
  wire += frame(opcode::pong, "2");
  wire += frame(opcode::continuation, "");
  wire += frame(opcode::continuation, "ef");
  recorder rec;
  decoder d = rec.make(role::client);
  ASSERT_FALSE(d.feed(wire));  // the empty final fragment ended the message
  EXPECT_EQ(rec.events, (std::vector<std::string>{"ping:1", "pong:2", "binary:4"}));
  EXPECT_EQ(d.error(), close_code::protocol_error);
  EXPECT_EQ(rec.payloads[0], "abcd");
}

TEST(WebSocketDecoder, EmptyMessagesAndControl) {
  std::string wire = frame(opcode::text, "") + frame(opcode::binary, "") + frame(opcode::ping, "") +
                     frame(opcode::close, "");
  recorder rec;
  decoder d = rec.make(role::client);
  EXPECT_TRUE(d.feed(wire));
  EXPECT_EQ(rec.events, (std::vector<std::string>{"text:", "binary:0", "ping:", "close:1005:"}));
}

TEST(WebSocketDecoder, UnmaskedClientFrameIs1002) {
  EXPECT_EQ(decode_error(role::server, frame(opcode::text, "Hello")), close_code::protocol_error);
  EXPECT_EQ(decode_error(role::server, cframe(opcode::text, "Hello")), 0);
}

TEST(WebSocketDecoder, MaskedServerFrameIs1002) {
  EXPECT_EQ(decode_error(role::client, cframe(opcode::text, "Hello")), close_code::protocol_error);
}

TEST(WebSocketDecoder, RsvBitsAre1002) {
  for (int rsv : {0x40, 0x20, 0x10}) {
    std::string f = cframe(opcode::text, "x");
    f[0] = char(uint8_t(f[0]) | rsv);
    EXPECT_EQ(decode_error(role::server, f), close_code::protocol_error) << rsv;
  }
}

TEST(WebSocketDecoder, UnknownOpcodesAre1002) {
  for (int op : {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
    std::string f = cframe(opcode::binary, "x");
    f[0] = char(0x80 | op);
    EXPECT_EQ(decode_error(role::server, f), close_code::protocol_error) << op;
  }
}

TEST(WebSocketDecoder, ControlFrameRules) {
  // 126-byte ping (length 126 in the 7 bits).
  EXPECT_EQ(decode_error(role::server, cframe(opcode::ping, std::string(126, 'p'))),
            close_code::protocol_error);
  EXPECT_EQ(decode_error(role::server, cframe(opcode::ping, std::string(125, 'p'))), 0);
  // Fragmented ping / close.
  EXPECT_EQ(decode_error(role::server, cframe(opcode::ping, "p", false)),
            close_code::protocol_error);
  EXPECT_EQ(decode_error(role::server, cframe(opcode::close, "", false)),
            close_code::protocol_error);
}

TEST(WebSocketDecoder, FragmentationOrder) {
  // Continuation with nothing started.
  EXPECT_EQ(decode_error(role::server, cframe(opcode::continuation, "x")),
            close_code::protocol_error);
  // New data frame while a message is open.
  EXPECT_EQ(
      decode_error(role::server, cframe(opcode::text, "a", false) + cframe(opcode::text, "b")),
      close_code::protocol_error);
  EXPECT_EQ(
      decode_error(role::server, cframe(opcode::binary, "a", false) + cframe(opcode::binary, "b")),
      close_code::protocol_error);
  // A finished message then a continuation.
  EXPECT_EQ(
      decode_error(role::server, cframe(opcode::text, "a") + cframe(opcode::continuation, "b")),
      close_code::protocol_error);
}

TEST(WebSocketDecoder, LengthEncodingRules) {
  // 64-bit length with the most significant bit set.
  EXPECT_EQ(decode_error(role::client, bytes({0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 1})),
            close_code::protocol_error);
  // Non-minimal: 16-bit holding 125, 64-bit holding 65535.
  EXPECT_EQ(decode_error(role::client, bytes({0x82, 0x7E, 0x00, 0x7D})),
            close_code::protocol_error);
  EXPECT_EQ(decode_error(role::client, bytes({0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF})),
            close_code::protocol_error);
  // Minimal ones are fine (header only; the payload has not come).
  EXPECT_EQ(decode_error(role::client, bytes({0x82, 0x7E, 0x00, 0x7E})), 0);
  EXPECT_EQ(decode_error(role::client, bytes({0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0})), 0);
}

TEST(WebSocketDecoder, OversizedFrameIs1009) {
  limits lim;
  lim.max_frame = 100;
  lim.max_message = 150;
  EXPECT_EQ(decode_error(role::server, cframe(opcode::binary, std::string(100, 'a')), lim), 0);
  EXPECT_EQ(decode_error(role::server, cframe(opcode::binary, std::string(101, 'a')), lim),
            close_code::message_too_big);
  // Reported from the header alone, before any payload.
  recorder rec;
  decoder d = rec.make(role::client, lim);
  EXPECT_FALSE(d.feed(bytes({0x82, 0x7F, 0, 0, 0, 1, 0, 0, 0, 0})));
  EXPECT_EQ(d.error(), close_code::message_too_big);
  // A message over the limit across fragments.
  EXPECT_EQ(decode_error(role::server,
                         cframe(opcode::binary, std::string(100, 'a'), false) +
                             cframe(opcode::continuation, std::string(51, 'a')),
                         lim),
            close_code::message_too_big);
  EXPECT_EQ(decode_error(role::server,
                         cframe(opcode::binary, std::string(100, 'a'), false) +
                             cframe(opcode::continuation, std::string(50, 'a')),
                         lim),
            0);
}

TEST(WebSocketDecoder, InvalidUtf8TextIs1007) {
  EXPECT_EQ(decode_error(role::server, cframe(opcode::text, "\xFF")), close_code::invalid_payload);
  // Fails fast, before the frame ends.
  recorder rec;
  decoder d = rec.make(role::client);
  std::string f = frame(opcode::text, "ab\xC0\xAF and more");
  EXPECT_FALSE(d.feed(f.substr(0, 5)));
  EXPECT_EQ(d.error(), close_code::invalid_payload);
  // A sequence left open at the end of the message.
  EXPECT_EQ(decode_error(role::server, cframe(opcode::text, "a\xE2\x82")),
            close_code::invalid_payload);
  // Across fragments: valid when joined...
  EXPECT_EQ(decode_error(role::server, cframe(opcode::text, "\xE2\x82", false) +
                                           cframe(opcode::continuation, "\xAC")),
            0);
  // ...invalid when the continuation breaks it.
  EXPECT_EQ(decode_error(role::server, cframe(opcode::text, "\xE2\x82", false) +
                                           cframe(opcode::continuation, "A")),
            close_code::invalid_payload);
  // Binary is not checked.
  EXPECT_EQ(decode_error(role::server, cframe(opcode::binary, "\xFF")), 0);
}

TEST(WebSocketUtf8, Rules) {
  EXPECT_TRUE(valid_utf8(""));
  EXPECT_TRUE(
      valid_utf8("Hello-\xC2\xB5@\xC3\x9F\xC3\xB6\xC3\xA4\xC3\xBC\xC3\xA0\xC3\xA1-UTF-8!!"));
  EXPECT_TRUE(valid_utf8("\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5"));
  EXPECT_TRUE(valid_utf8("\x7F\xDF\xBF\xEF\xBF\xBF\xF4\x8F\xBF\xBF"));  // last of each length
  EXPECT_TRUE(valid_utf8("\xC2\x80\xE0\xA0\x80\xF0\x90\x80\x80"));      // first of each length
  EXPECT_TRUE(valid_utf8("\xED\x9F\xBF\xEE\x80\x80"));                  // around the surrogates
  // Overlongs.
  EXPECT_FALSE(valid_utf8("\xC0\x80"));
  EXPECT_FALSE(valid_utf8("\xC1\xBF"));
  EXPECT_FALSE(valid_utf8("\xE0\x9F\xBF"));
  EXPECT_FALSE(valid_utf8("\xF0\x8F\xBF\xBF"));
  // Surrogates.
  EXPECT_FALSE(valid_utf8("\xED\xA0\x80"));
  EXPECT_FALSE(valid_utf8("\xED\xBF\xBF"));
  // Above U+10FFFF.
  EXPECT_FALSE(valid_utf8("\xF4\x90\x80\x80"));
  EXPECT_FALSE(valid_utf8("\xF5\x80\x80\x80"));
  EXPECT_FALSE(valid_utf8("\xFF"));
  // Stray continuation, truncated sequences.
  EXPECT_FALSE(valid_utf8("\x80"));
  EXPECT_FALSE(valid_utf8("\xC2"));
  EXPECT_FALSE(valid_utf8("\xF0\x90\x80"));
  EXPECT_FALSE(
      valid_utf8("\xE2\x82"
                 "A"));
  // Incremental, cut anywhere.
  const std::string s = "\xF0\x9F\x98\x80\xE2\x82\xAC\xC3\xA9";
  for (size_t cut = 0; cut <= s.size(); ++cut) {
    utf8_validator v;
    EXPECT_TRUE(v.feed(s.substr(0, cut)));
    EXPECT_EQ(v.complete(), cut == 0 || cut == 4 || cut == 7 || cut == 9) << cut;
    EXPECT_TRUE(v.feed(s.substr(cut)));
    EXPECT_TRUE(v.complete());
  }
}

TEST(WebSocketDecoder, CloseFrameRules) {
  // One-byte payload.
  EXPECT_EQ(decode_error(role::server, cframe(opcode::close, "\x03")), close_code::protocol_error);
  // Invalid codes.
  for (int code : {0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}) {
    EXPECT_EQ(
        decode_error(role::server, cframe(opcode::close, bytes({code >> 8, code & 0xFF}) + "x")),
        close_code::protocol_error)
        << code;
  }
  // Valid codes.
  for (int code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000,
                   3999, 4000, 4999}) {
    recorder rec;
    decoder d = rec.make(role::server);
    EXPECT_TRUE(d.feed(cframe(opcode::close, bytes({code >> 8, code & 0xFF}) + "why")));
    EXPECT_EQ(rec.events, std::vector<std::string>{"close:" + std::to_string(code) + ":why"});
  }
  // Reason not UTF-8.
  EXPECT_EQ(decode_error(role::server, cframe(opcode::close, close_payload(1000, "\xC3"))),
            close_code::invalid_payload);
}

TEST(WebSocketDecoder, AfterErrorInputIsRefused) {
  recorder rec;
  decoder d = rec.make(role::server);
  EXPECT_FALSE(d.feed(frame(opcode::text, "x")));
  EXPECT_EQ(d.error(), close_code::protocol_error);
  EXPECT_TRUE(d.failed());
  EXPECT_FALSE(d.error_reason().empty());
  EXPECT_FALSE(d.feed(cframe(opcode::text, "fine")));
  EXPECT_TRUE(rec.events.empty());
  EXPECT_EQ(d.error(), close_code::protocol_error);
}

TEST(WebSocketDecoder, AfterCloseInputIsIgnored) {
  recorder rec;
  decoder d = rec.make(role::server);
  EXPECT_TRUE(d.feed(cframe(opcode::close, close_payload(1001)) + cframe(opcode::text, "late")));
  EXPECT_EQ(rec.events, std::vector<std::string>{"close:1001:"});
  EXPECT_TRUE(d.closed());
  EXPECT_TRUE(d.feed("more"));
  EXPECT_EQ(rec.events.size(), 1u);
}

TEST(WebSocketDecoder, CallbacksMayBeEmpty) {
  decoder d(role::client, {});
  EXPECT_TRUE(
      d.feed(frame(opcode::text, "a") + frame(opcode::ping, "b") + frame(opcode::close, "")));
  EXPECT_TRUE(d.closed());
}

// --- encoder ----------------------------------------------------------------------

TEST(WebSocketEncoder, ClosePayload) {
  EXPECT_EQ(close_payload(1000, "bye"), bytes({0x03, 0xE8}) + "bye");
  EXPECT_EQ(close_payload(0), "");
  EXPECT_EQ(close_payload(close_code::no_status, "ignored"), "");
  // Cut to 125 bytes, not inside a character: 61 two-byte characters = 122 bytes
  // + one more = 124 > 123, so 61 characters stay.
  std::string reason;
  for (int i = 0; i < 70; ++i) reason += "\xC3\xA9";
  const std::string p = close_payload(1001, reason);
  EXPECT_EQ(p.size(), 2u + 122u);
  EXPECT_TRUE(valid_utf8(p.substr(2)));
  EXPECT_EQ(close_payload(1001, std::string(200, 'a')).size(), 125u);
  // Round trip through a decoder.
  recorder rec;
  decoder d = rec.make(role::client);
  EXPECT_TRUE(d.feed(encoder(role::server).close(1011, "oops")));
  EXPECT_EQ(rec.events, std::vector<std::string>{"close:1011:oops"});
}

TEST(WebSocketEncoder, ClientMasksWithItsSource) {
  uint8_t next = 0;
  encoder client(role::client, [&] {
    mask_key k{next, uint8_t(next + 1), uint8_t(next + 2), uint8_t(next + 3)};
    next = uint8_t(next + 4);
    return k;
  });
  const std::string a = client.binary("abcdef"), b = client.binary("abcdef");
  EXPECT_EQ(a.substr(2, 4), bytes({0, 1, 2, 3}));
  EXPECT_EQ(b.substr(2, 4), bytes({4, 5, 6, 7}));
  EXPECT_NE(a, b);
  recorder rec;
  decoder d = rec.make(role::server);
  EXPECT_TRUE(d.feed(a + b));
  EXPECT_EQ(rec.payloads, (std::vector<std::string>{"abcdef", "abcdef"}));
  // The default source (RAND_bytes) masks too.
  const std::string r = encoder(role::client).text("hi");
  EXPECT_EQ(uint8_t(r[1]), 0x82);
  recorder rr;
  decoder dr = rr.make(role::server);
  EXPECT_TRUE(dr.feed(r));
  EXPECT_EQ(rr.events, std::vector<std::string>{"text:hi"});
}

TEST(WebSocketEncoder, FragmentsRoundTrip) {
  encoder client(role::client, [] { return kMask; });
  std::string wire;
  client.append(wire, opcode::text, "frag", false);
  client.append(wire, opcode::pong, "");
  client.append(wire, opcode::continuation, "ment");
  recorder rec;
  decoder d = rec.make(role::server);
  EXPECT_TRUE(d.feed(wire));
  EXPECT_EQ(rec.events, (std::vector<std::string>{"pong:", "text:fragment"}));
}

}  // namespace
}  // namespace tern::http::ws
