// libFuzzer target for the cluster link decoder (src/cluster/frame_decoder.cpp).
// The byte stream goes to a decoder of the role and stage byte 1 picks, once
// whole and once cut at pseudo-random points: both decodes must report the
// same messages and the same error, no message may exceed the limit, and each
// message, packed again (message_packer), must decode to itself.
//
// Input: byte 0: cut seed; byte 1: bit 0 role (server/client), bit 1 ready,
// bits 2..7: max_message = 1 + value * 4096; the stream is the rest.
//
// Build (preset fuzz): cmake --build --preset fuzz --target cluster_fuzz
// Seeds: tests/fuzz/corpus/cluster/.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "cluster/frame.hpp"
#include "cluster/frame_decoder.hpp"
#include "tern/core/types.hpp"

namespace {

using namespace tern::cluster;

void check(bool ok) {
  if (!ok) std::abort();
}

struct event {
  int k;
  uint32_t session, handle;
  std::string name, bytes;
  bool operator==(const event&) const = default;
};

struct result {
  std::vector<event> events;
  std::string error;
};

event take(decoded& d) {
  event e{int(d.k), d.session, d.handle, d.name, d.data ? std::string(d.data, d.size) : d.body};
  tern::mem_free(d.data);
  return e;
}

result decode_all(role r, bool ready, const limits& l, const uint8_t* p, size_t n,
                  uint32_t cut_seed) {
  frame_decoder d(r, l);
  if (ready) d.ready();
  result out;
  uint32_t state = cut_seed * 2654435761u + 1;
  size_t pos = 0;
  while (pos < n) {
    size_t step = n - pos;
    if (cut_seed) {
      state ^= state << 13;
      state ^= state >> 17;
      state ^= state << 5;
      step = 1 + state % std::min<size_t>(step, 97);
    }
    d.feed(reinterpret_cast<const char*>(p + pos), step);
    pos += step;
    decoded m;
    frame_decoder::status s;
    while ((s = d.next(m)) == frame_decoder::status::message) {
      check(m.size <= l.max_message);
      out.events.push_back(take(m));
    }
    if (s == frame_decoder::status::error) {
      out.error = d.error();
      check(!out.error.empty());
      break;
    }
    check(d.partial_missing() <= l.max_partial);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  uint32_t seed = data[0];
  role r = (data[1] & 1) ? role::client : role::server;
  bool ready = data[1] & 2;
  limits l;
  l.max_message = 1 + uint64_t(data[1] >> 2) * 4096;
  l.max_partial = 2 * l.max_message;
  const uint8_t* p = data + 2;
  size_t n = size - 2;

  result whole = decode_all(r, ready, l, p, n, 0);
  result cut = decode_all(r, ready, l, p, n, seed | 1);
  check(whole.events == cut.events);
  check(whole.error == cut.error);

  // Messages packed again decode to themselves.
  for (const event& e : whole.events) {
    auto k = kind(e.k);
    if (k != kind::call && k != kind::send && k != kind::ok && k != kind::err) continue;
    target t{e.handle, e.name};
    message_packer packer(k, e.session, &t, e.bytes.data(), e.bytes.size());
    std::string again(packer.bytes(0, packer.count()), '\0');
    packer.write(again.data(), 0, packer.count());
    result back =
        decode_all(r, true, l, reinterpret_cast<const uint8_t*>(again.data()), again.size(), 0);
    check(back.error.empty() && back.events.size() == 1 && back.events[0] == e);
  }
  return 0;
}
