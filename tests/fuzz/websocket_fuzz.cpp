// libFuzzer target for the WebSocket frame decoder (src/http/websocket.cpp).
// The byte stream goes to a server-role and a client-role decoder with small
// size limits, once whole and once cut at pseudo-random points: both decodes
// must report the same events and the same error, the buffered message never
// exceeds the limit, every text message and close reason is valid UTF-8,
// every close code is valid, and each decoded message, encoded again by the
// peer's encoder (fragmented, with a ping after the first fragment), decodes to itself.
//
// Input: byte 0: cut seed; byte 1: limits (max_frame = 1 + (b & 0x3f) * 4,
// max_message = max_frame * (1 + (b >> 6))); the stream is the rest.
//
// Build (preset fuzz): cmake --build --preset fuzz --target websocket_fuzz
// Seeds: tests/fuzz/corpus/websocket/.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "http/websocket.hpp"

namespace {

namespace ws = tern::http::ws;

void check(bool ok) {
  if (!ok) std::abort();
}

struct cutter {
  uint32_t state;
  explicit cutter(uint32_t seed) : state(seed * 2654435761u + 1) {}
  uint32_t next() {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
  }
  size_t chunk(size_t left) {
    uint32_t r = next();
    size_t n;
    switch (r & 3) {
      case 0:
        n = 1;
        break;
      case 1:
        n = 1 + (r >> 8) % 14;  // around a header
        break;
      case 2:
        n = 1 + (r >> 8) % 200;
        break;
      default:
        n = left;
        break;
    }
    return n < left ? n : left;
  }
};

struct event {
  int kind;  // 0 message, 1 control, 2 close
  int op;    // opcode or close code
  std::string payload;
  bool operator==(const event&) const = default;
};

struct run {
  std::vector<event> events;
  uint16_t error = 0;
  bool closed = false;
};

ws::decoder make(ws::role r, const ws::limits& lim, std::vector<event>& out) {
  ws::decoder::callbacks cb;
  cb.on_message = [&out, lim](ws::opcode op, std::string_view p) {
    check(op == ws::opcode::text || op == ws::opcode::binary);
    check(p.size() <= lim.max_message);
    if (op == ws::opcode::text) check(ws::valid_utf8(p));
    out.push_back({0, int(op), std::string(p)});
  };
  cb.on_control = [&out](ws::opcode op, std::string_view p) {
    check(op == ws::opcode::ping || op == ws::opcode::pong);
    check(p.size() <= 125);
    out.push_back({1, int(op), std::string(p)});
  };
  cb.on_close = [&out](uint16_t code, std::string_view reason) {
    check(code == ws::close_code::no_status || ws::valid_close_code(code));
    check(reason.size() <= 123);
    check(ws::valid_utf8(reason));
    out.push_back({2, code, std::string(reason)});
  };
  return ws::decoder(r, std::move(cb), lim);
}

run decode(ws::role r, const ws::limits& lim, const uint8_t* p, size_t n, cutter* cut) {
  run res;
  ws::decoder d = make(r, lim, res.events);
  for (size_t pos = 0; pos < n;) {
    size_t len = cut ? cut->chunk(n - pos) : n - pos;
    bool ok = d.feed(std::string_view(reinterpret_cast<const char*>(p + pos), len));
    check(ok == !d.failed());
    check(d.buffered() <= lim.max_message);
    pos += len;
    if (!ok) {
      // Refused from now on.
      check(!d.feed("\x82\x00"));
      break;
    }
  }
  res.error = d.error();
  res.closed = d.closed();
  check(res.error == 0 || res.error == ws::close_code::protocol_error ||
        res.error == ws::close_code::invalid_payload ||
        res.error == ws::close_code::message_too_big);
  check(!(res.closed && res.error));
  return res;
}

// Re-encodes an event as the peer would (a message in fragments of at most
// max_frame bytes, a ping after the first) and decodes it again.
void round_trip(ws::role r, const ws::limits& lim, const event& e, cutter& cut) {
  const ws::role peer = r == ws::role::server ? ws::role::client : ws::role::server;
  uint32_t key = cut.next();
  ws::encoder enc(peer, [&key] {
    key = key * 1103515245u + 12345u;
    return ws::mask_key{uint8_t(key >> 24), uint8_t(key >> 16), uint8_t(key >> 8), uint8_t(key)};
  });
  std::string wire;
  std::string_view p = e.payload;
  if (e.kind == 1) {
    enc.append(wire, ws::opcode(e.op), p);
  } else if (e.kind == 2) {
    wire = enc.close(uint16_t(e.op), p);
  } else {
    // Fragments of 1..max_frame bytes (the first may be empty), a ping after the first.
    size_t first = p.empty() ? 0 : cut.next() % (std::min<uint64_t>(p.size(), lim.max_frame) + 1);
    enc.append(wire, ws::opcode(e.op), p.substr(0, first), first == p.size());
    enc.append(wire, ws::opcode::ping, "x");
    for (size_t pos = first; pos < p.size();) {
      size_t len = 1 + cut.next() % lim.max_frame;
      if (len > p.size() - pos) len = p.size() - pos;
      enc.append(wire, ws::opcode::continuation, p.substr(pos, len), pos + len == p.size());
      pos += len;
    }
  }
  run again = decode(r, lim, reinterpret_cast<const uint8_t*>(wire.data()), wire.size(), &cut);
  check(again.error == 0);
  if (e.kind == 0) {
    // The ping comes before the message unless the first fragment was the whole message.
    check(again.events.size() == 2);
    check((again.events[0] == e && again.events[1].kind == 1) ||
          (again.events[0].kind == 1 && again.events[1] == e));
  } else {
    check(again.events.size() == 1 && again.events[0] == e);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint32_t seed = data[0] | uint32_t(size) << 8;
  ws::limits lim;
  lim.max_frame = 1 + (data[1] & 0x3f) * 4u;
  lim.max_message = lim.max_frame * (1 + (data[1] >> 6));
  const uint8_t* stream = data + 2;
  const size_t n = size - 2;
  cutter cut(seed);
  for (ws::role r : {ws::role::server, ws::role::client}) {
    run whole = decode(r, lim, stream, n, nullptr);
    run pieces = decode(r, lim, stream, n, &cut);
    check(whole.events == pieces.events);
    check(whole.error == pieces.error);
    check(whole.closed == pieces.closed);
    for (const event& e : whole.events) round_trip(r, lim, e, cut);
  }
  return 0;
}
