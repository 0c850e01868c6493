// libFuzzer target for the length framing (src/net/length_framer.cpp) and
// skynet.netpack's filter on top of it (src/lua/netpack.cpp, loaded into a
// bare Lua state). An input is a few control bytes and a byte stream; the
// stream is cut at pseudo-random points (seeded by the input) and fed read by
// read. Whatever the cuts, the packets must be those of a plain one-pass
// decode of the whole stream, a length over the limit must be reported exactly
// when the decode meets it, and nothing may crash or leak (ASan/LSan).
//
// Input: byte 0: bit 0 = 4-byte headers (framer part), bits 1-2 = limit kind
// (0: the header's maximum, 1: 0, 2: byte 1, 3: bytes 1-2); byte 3: cut seed;
// the stream is the rest.
//
// Build (preset fuzz): cmake --build --preset fuzz --target netpack_fuzz
// Seeds: tests/fuzz/corpus/netpack/.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <lua.hpp>
#include <string>
#include <vector>

#include "lua/snlua.hpp"
#include "net/length_framer.hpp"
#include "tern/core/types.hpp"
#include "tern/module_socket.h"

namespace {

using tern::net::framing;
using tern::net::length_framer;

void check(bool ok) {
  if (!ok) std::abort();
}

// What a one-pass decode of the whole stream finds.
struct decoded {
  std::vector<std::string> packets;
  bool oversize = false;
  uint64_t bad_length = 0;
  size_t leftover_header = 0;  // bytes of an incomplete header at the end
  size_t leftover_body = 0;    // payload bytes of an incomplete packet at the end
  bool in_body = false;
};

decoded reference(const framing& f, const uint8_t* p, size_t n) {
  decoded d;
  size_t pos = 0;
  while (pos < n) {
    if (n - pos < f.header_bytes) {
      d.leftover_header = n - pos;
      break;
    }
    uint64_t len = 0;
    for (int i = 0; i < f.header_bytes; ++i) len = (len << 8) | p[pos + i];
    pos += f.header_bytes;
    if (len > f.max_packet) {
      d.oversize = true;
      d.bad_length = len;
      break;
    }
    if (n - pos < len) {
      d.in_body = true;
      d.leftover_body = n - pos;
      break;
    }
    d.packets.emplace_back(reinterpret_cast<const char*>(p + pos), size_t(len));
    pos += size_t(len);
  }
  return d;
}

// Cut points: a small xorshift generator.
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
        break;  // byte by byte
      case 1:
        n = 1 + (r >> 8) % 4;
        break;  // around a header
      case 2:
        n = 1 + (r >> 8) % 64;
        break;
      default:
        n = left;
        break;  // all that is left
    }
    return n < left ? n : left;
  }
};

char* copy_of(const uint8_t* p, size_t n) {
  auto* b = static_cast<char*>(tern::mem_alloc(n));
  if (n) std::memcpy(b, p, n);
  return b;
}

// A read holding exactly one packet is handed out as the packet itself.
void check_handover() {
  length_framer framer;
  framing f;
  char* read = copy_of(reinterpret_cast<const uint8_t*>("\0\3abc"), 5);
  char* got = nullptr;
  framer.feed(f, read, 5, [&](char* bytes, uint32_t size) {
    check(size == 3 && std::memcmp(bytes, "abc", 3) == 0);
    got = bytes;
  });
  check(got == read);
  tern::mem_free(got);
}

void fuzz_framer(const framing& f, uint32_t seed, const uint8_t* p, size_t n) {
  decoded want = reference(f, p, n);
  length_framer framer;
  std::vector<std::string> got;
  auto emit = [&](char* bytes, uint32_t size) {
    check(bytes != nullptr);
    got.emplace_back(bytes, size);
    tern::mem_free(bytes);
  };
  cutter cut(seed);
  bool oversize = false;
  uint64_t bad = 0;
  for (size_t pos = 0; pos < n && !oversize;) {
    size_t len = cut.chunk(n - pos);
    oversize =
        framer.feed(f, copy_of(p + pos, len), len, emit, &bad) == length_framer::result::oversize;
    pos += len;
  }
  check(got == want.packets);
  check(oversize == want.oversize);
  if (oversize) {
    check(bad == want.bad_length);
    check(framer.idle());
  } else if (want.in_body) {
    check(framer.pending() == want.leftover_body);
  } else {
    check(framer.pending() == want.leftover_header);
    check(framer.idle() == (want.leftover_header == 0));
  }
  // A framer moved from keeps nothing; the one moved to frees the partial packet.
  length_framer other(std::move(framer));
  check(framer.idle());
}

// --- netpack through Lua ------------------------------------------------------

// A socket message as the node delivers it: the struct, then text.
std::string socket_message(int type, int id, int ud, char* buffer, const std::string& text = {}) {
  tern_socket_message m{type, id, ud, buffer};
  std::string s(reinterpret_cast<const char*>(&m), sizeof m);
  return s + text;
}

struct netpack_run {
  lua_State* L = nullptr;
  int filter = 0, pop = 0, tostring = 0;  // stack slots
  int queue = 0;
  std::vector<std::string> packets[2];
  bool rejected[2] = {false, false};

  // Calls filter(queue, msg, sz); returns the type string ("" for none).
  std::string call_filter(const std::string& message) {
    int top = lua_gettop(L);
    // The message lives in a full userdata sized exactly, like a mailbox copy.
    void* m = lua_newuserdatauv(L, message.size(), 0);
    std::memcpy(m, message.data(), message.size());
    int mslot = lua_gettop(L);
    lua_pushvalue(L, filter);
    lua_pushvalue(L, queue);
    lua_pushlightuserdata(L, m);
    lua_pushinteger(L, lua_Integer(message.size()));
    check(lua_pcall(L, 3, LUA_MULTRET, 0) == LUA_OK);
    lua_copy(L, mslot + 1, queue);  // the (maybe new) queue
    std::string type;
    if (lua_gettop(L) > mslot + 1) type = lua_tostring(L, mslot + 2);
    if (type == "data") {
      int fd = int(lua_tointeger(L, mslot + 3));
      check(fd == 0 || fd == 1);
      void* bytes = lua_touserdata(L, mslot + 4);
      lua_Integer size = lua_tointeger(L, mslot + 5);
      lua_pushvalue(L, tostring);  // copies and frees
      lua_pushlightuserdata(L, bytes);
      lua_pushinteger(L, size);
      check(lua_pcall(L, 2, 1, 0) == LUA_OK);
      packets[fd].emplace_back(lua_tostring(L, -1), size_t(size));
    } else if (type == "more") {
      for (;;) {
        lua_settop(L, mslot);
        lua_pushvalue(L, pop);
        lua_pushvalue(L, queue);
        check(lua_pcall(L, 1, 3, 0) == LUA_OK);
        if (lua_isnil(L, -3)) break;
        int fd = int(lua_tointeger(L, -3));
        check(fd == 0 || fd == 1);
        auto* bytes = static_cast<char*>(lua_touserdata(L, -2));
        size_t size = size_t(lua_tointeger(L, -1));
        packets[fd].emplace_back(bytes, size);
        tern::mem_free(bytes);
      }
    } else if (type == "error") {
      int fd = int(lua_tointeger(L, mslot + 3));
      if (fd == 0 || fd == 1) rejected[fd] = true;
    }
    lua_settop(L, top);
    return type;
  }
};

void fuzz_netpack(uint32_t max_packet, uint32_t seed, const uint8_t* p, size_t n) {
  framing f;
  f.header_bytes = 2;
  f.max_packet = max_packet > 0xffff ? 0xffff : max_packet;
  decoded want = reference(f, p, n);

  lua_State* L = luaL_newstate();
  check(L != nullptr);
  luaL_requiref(L, "skynet.netpack", luaopen_skynet_netpack, 0);
  int lib = lua_gettop(L);
  lua_getfield(L, lib, "max");
  lua_pushinteger(L, f.max_packet);
  check(lua_pcall(L, 1, 1, 0) == LUA_OK);
  check(lua_tointeger(L, -1) == 0xffff);
  lua_pop(L, 1);

  netpack_run run;
  run.L = L;
  lua_getfield(L, lib, "filter");
  run.filter = lua_gettop(L);
  lua_getfield(L, lib, "pop");
  run.pop = lua_gettop(L);
  lua_getfield(L, lib, "tostring");
  run.tostring = lua_gettop(L);
  lua_pushnil(L);
  run.queue = lua_gettop(L);

  check(run.call_filter(socket_message(TERN_SOCKET_TYPE_ACCEPT, 9, 0, nullptr, "127.0.0.1:1")) ==
        "open");
  check(run.call_filter(socket_message(TERN_SOCKET_TYPE_CONNECT, 0, 0, nullptr, "start")) ==
        "init");
  check(run.call_filter(socket_message(TERN_SOCKET_TYPE_WARNING, 1, 64, nullptr)) == "warning");

  // The same stream on two connections, cut differently, reads interleaved.
  cutter cut(seed);
  size_t pos[2] = {0, 0};
  while (pos[0] < n || pos[1] < n) {
    int fd = pos[0] < n && (pos[1] >= n || (cut.next() & 1)) ? 0 : 1;
    size_t len = cut.chunk(n - pos[fd]);
    std::string type = run.call_filter(
        socket_message(TERN_SOCKET_TYPE_DATA, fd, int(len), copy_of(p + pos[fd], len)));
    check(type == "" || type == "data" || type == "more" || type == "error");
    pos[fd] += len;
  }
  for (int fd = 0; fd < 2; ++fd) {
    check(run.rejected[fd] == want.oversize);
    // On an oversize length the packets of that read are dropped with it, so
    // a connection gets a prefix of the decoded packets.
    if (want.oversize) {
      check(run.packets[fd].size() <= want.packets.size());
      for (size_t i = 0; i < run.packets[fd].size(); ++i)
        check(run.packets[fd][i] == want.packets[i]);
    } else {
      check(run.packets[fd] == want.packets);
    }
  }
  // fd 0 closes (its partial packet is freed now); fd 1's goes with lua_close.
  check(run.call_filter(socket_message(TERN_SOCKET_TYPE_CLOSE, 0, 0, nullptr)) == "close");
  check(run.call_filter(socket_message(TERN_SOCKET_TYPE_ERROR, 7, 0, nullptr, "reset")) == "error");
  check(run.call_filter(
            socket_message(TERN_SOCKET_TYPE_UDP, 3, 2, copy_of(p, n < 2 ? n : 2), "addr")) == "");
  lua_close(L);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  const uint8_t flags = data[0];
  const uint8_t header_bytes = (flags & 1) ? 4 : 2;
  uint32_t max_packet = framing::limit(header_bytes);
  switch ((flags >> 1) & 3) {
    case 1:
      max_packet = 0;
      break;
    case 2:
      max_packet = data[1];
      break;
    case 3:
      max_packet = uint32_t(data[1]) << 8 | data[2];
      break;
    default:
      break;
  }
  const uint32_t seed = data[3] | uint32_t(size) << 8;
  const uint8_t* stream = data + 4;
  const size_t n = size - 4;

  static const bool handover_checked = (check_handover(), true);
  (void)handover_checked;
  framing f;
  f.header_bytes = header_bytes;
  f.max_packet = max_packet;
  fuzz_framer(f, seed, stream, n);
  fuzz_netpack(max_packet, seed, stream, n);
  return 0;
}
