// skynet.cluster.core: the C side of tern's cluster services (service/cluster*.lua).
// The name is skynet's; the functions are tern's own (the wire format is ours,
// docs/cluster.md).
//
//   core.decoder("server"|"client", max_message) -> d
//     d:feed(msg, sz)      a socket DATA buffer (taken over and freed) or d:feed(string)
//     d:pop() -> nil                                   need more bytes
//             -> false, reason                         bad stream: close the link
//             -> CALL|SEND, session, target, msg, sz   target: handle or name
//             -> OK|ERR, session, msg, sz              (msg: lightuserdata, ours; nil if sz 0)
//             -> HELLO|JOIN|WELCOME|REFUSE, 0, body    (body: string)
//     d:ready()            the handshake is done: messages from now on (before: only
//                          the handshake's frames are accepted)
//     d:buffered() -> bytes of an incomplete frame, messages in progress
//   core.request(session, target, msg, sz, push) -> buf, size
//     one CALL (or SEND) message as frames; msg (lightuserdata) is freed, a string copied
//   core.reply(session, ok, msg, sz | string) -> buf, size, or {buf, size, buf, size, ...}
//     above 1 MiB the frames come in 1 MiB buffers, so a large reply written
//     with low priority lets small ones through between them; msg is not freed
//   core.free(msg)
//   core.hello(secret) -> frame, server_nonce
//   core.join(hello_body, secret, name) -> frame, expected_welcome | nil, reason
//   core.accept(join_body, server_nonce, secret) -> true, welcome_frame, peer_name
//                                                -> false, reason, refuse_frame
//   core.welcome(welcome_body, expected_welcome) -> true | false, reason
//   core.nodename() -> "host-pid" (names this node in JOIN, for the peer's log)
//   core.CALL, SEND, OK, ERR, HELLO, JOIN, WELCOME, REFUSE: the kinds
//   core.MAX_MESSAGE: the default limit of a message's size (64 MiB)
//
// Secrets: "" or nil means none. No C++ exception crosses into Lua: every
// throwing call runs inside a try block, and Lua errors are raised after the
// C++ objects of that block are gone.
//
// Threading: a Lua module; everything runs on the service's worker.
#include <unistd.h>

#include <cstring>
#include <exception>
#include <lua.hpp>
#include <new>
#include <string>

#include "cluster/frame.hpp"
#include "cluster/frame_decoder.hpp"
#include "cluster/handshake.hpp"
#include "tern/core/types.hpp"

namespace tern::cluster {
namespace {

constexpr const char* kDecoderMeta = "skynet.cluster.decoder";
constexpr size_t kReplyGroup = 16;  // frames per buffer of a large reply (1 MiB)

struct decoder_box {
  frame_decoder* d;
};

frame_decoder* check_decoder(lua_State* L) {
  auto* box = static_cast<decoder_box*>(luaL_checkudata(L, 1, kDecoderMeta));
  if (!box->d) luaL_error(L, "cluster decoder is closed");
  return box->d;
}

int decoder_gc(lua_State* L) {
  auto* box = static_cast<decoder_box*>(luaL_checkudata(L, 1, kDecoderMeta));
  delete box->d;
  box->d = nullptr;
  return 0;
}

int ldecoder(lua_State* L) {
  const char* r = luaL_checkstring(L, 1);
  role rl;
  if (std::strcmp(r, "server") == 0)
    rl = role::server;
  else if (std::strcmp(r, "client") == 0)
    rl = role::client;
  else
    return luaL_argerror(L, 1, "\"server\" or \"client\" expected");
  lua_Integer max = luaL_optinteger(L, 2, lua_Integer(limits{}.max_message));
  if (max <= 0 || max > lua_Integer(UINT32_MAX)) return luaL_argerror(L, 2, "1 .. 4294967295");
  limits l;
  l.max_message = uint64_t(max);
  l.max_partial = 2 * uint64_t(max);
  auto* box = static_cast<decoder_box*>(lua_newuserdatauv(L, sizeof(decoder_box), 0));
  box->d = nullptr;
  luaL_setmetatable(L, kDecoderMeta);
  box->d = new (std::nothrow) frame_decoder(rl, l);
  if (!box->d) return luaL_error(L, "not enough memory");
  return 1;
}

int lfeed(lua_State* L) {
  frame_decoder* d = check_decoder(L);
  bool failed = false;
  if (lua_type(L, 2) == LUA_TSTRING) {
    size_t n = 0;
    const char* s = lua_tolstring(L, 2, &n);
    try {
      d->feed(s, n);
    } catch (const std::exception&) {
      failed = true;
    }
  } else {
    auto* p = static_cast<char*>(lua_touserdata(L, 2));
    lua_Integer n = luaL_checkinteger(L, 3);
    if (p) {
      try {
        if (n > 0) d->feed(p, size_t(n));
      } catch (const std::exception&) {
        failed = true;
      }
      mem_free(p);
    }
  }
  if (failed) return luaL_error(L, "not enough memory");
  return 0;
}

int lpop(lua_State* L) {
  frame_decoder* d = check_decoder(L);
  luaL_checkstack(L, 6, nullptr);  // pushing below cannot fail for room, so msg cannot leak
  decoded out;
  frame_decoder::status s;
  try {
    s = d->next(out);
  } catch (const std::exception&) {
    s = frame_decoder::status::error;
  }
  if (s == frame_decoder::status::need_more) {
    lua_pushnil(L);
    return 1;
  }
  if (s == frame_decoder::status::error) {
    lua_pushboolean(L, 0);
    if (d->error().empty())
      lua_pushliteral(L, "not enough memory");
    else
      lua_pushlstring(L, d->error().data(), d->error().size());
    return 2;
  }
  lua_pushinteger(L, lua_Integer(out.k));
  lua_pushinteger(L, lua_Integer(out.session));
  switch (out.k) {
    case kind::call:
    case kind::send:
      if (out.name.empty())
        lua_pushinteger(L, lua_Integer(out.handle));
      else
        lua_pushlstring(L, out.name.data(), out.name.size());
      if (out.data)
        lua_pushlightuserdata(L, out.data);
      else
        lua_pushnil(L);
      lua_pushinteger(L, lua_Integer(out.size));
      return 5;
    case kind::ok:
    case kind::err:
      if (out.data)
        lua_pushlightuserdata(L, out.data);
      else
        lua_pushnil(L);
      lua_pushinteger(L, lua_Integer(out.size));
      return 4;
    default:
      lua_pushlstring(L, out.body.data(), out.body.size());
      return 3;
  }
}

int lready(lua_State* L) {
  check_decoder(L)->ready();
  return 0;
}

int lbuffered(lua_State* L) {
  frame_decoder* d = check_decoder(L);
  lua_pushinteger(L, lua_Integer(d->buffered()));
  lua_pushinteger(L, lua_Integer(d->partial_messages()));
  return 2;
}

// Message body at index i: lightuserdata + size, a string, or nil.
struct body {
  const char* data = nullptr;
  size_t size = 0;
  void* owned = nullptr;  // lightuserdata
};

body get_body(lua_State* L, int i) {
  body b;
  switch (lua_type(L, i)) {
    case LUA_TLIGHTUSERDATA:
      b.owned = lua_touserdata(L, i);
      b.data = static_cast<const char*>(b.owned);
      b.size = size_t(luaL_checkinteger(L, i + 1));
      break;
    case LUA_TSTRING:
      b.data = lua_tolstring(L, i, &b.size);
      break;
    case LUA_TNIL:
    case LUA_TNONE:
      break;
    default:
      luaL_error(L, "cluster: message expected, got %s", luaL_typename(L, i));
  }
  return b;
}

// core.request(session, target, msg, sz, push) -> buf, size
int lrequest(lua_State* L) {
  auto session = uint32_t(luaL_checkinteger(L, 1));
  target t;
  size_t name_len = 0;
  if (lua_type(L, 2) == LUA_TSTRING) {
    const char* name = lua_tolstring(L, 2, &name_len);
    t.name = std::string_view(name, name_len);
    if (name_len == 0 || name_len > kMaxName) return luaL_argerror(L, 2, "name of 1..255 bytes");
  } else {
    t.handle = uint32_t(luaL_checkinteger(L, 2));
  }
  body b = get_body(L, 3);
  bool push = lua_toboolean(L, 5);
  if (b.size > UINT32_MAX) {
    if (b.owned) mem_free(b.owned);
    return luaL_error(L, "cluster: message of %I bytes is too large", lua_Integer(b.size));
  }
  char* buf = nullptr;
  size_t n = 0;
  bool failed = false;
  try {
    message_packer p(push ? kind::send : kind::call, session, &t, b.data, b.size);
    n = p.bytes(0, p.count());
    buf = static_cast<char*>(mem_alloc(n));
    p.write(buf, 0, p.count());
  } catch (const std::exception&) {
    failed = true;
  }
  if (b.owned) mem_free(b.owned);
  if (failed) return luaL_error(L, "not enough memory");
  lua_pushlightuserdata(L, buf);
  lua_pushinteger(L, lua_Integer(n));
  return 2;
}

// core.reply(session, ok, msg, sz | string)
int lreply(lua_State* L) {
  auto session = uint32_t(luaL_checkinteger(L, 1));
  bool ok = lua_toboolean(L, 2);
  body b = get_body(L, 3);
  if (b.size > UINT32_MAX) return luaL_error(L, "cluster: reply too large");
  message_packer p(ok ? kind::ok : kind::err, session, nullptr, b.data, b.size);
  size_t groups = (p.count() + kReplyGroup - 1) / kReplyGroup;
  if (groups > 1) {
    lua_createtable(L, int(groups * 2), 0);
    luaL_checkstack(L, 4, nullptr);
  }
  for (size_t g = 0; g < groups; ++g) {
    size_t first = g * kReplyGroup;
    size_t n = p.bytes(first, kReplyGroup);
    char* buf = nullptr;
    try {
      buf = static_cast<char*>(mem_alloc(n));
    } catch (const std::bad_alloc&) {
      buf = nullptr;
    }
    if (!buf) {
      // Buffers already in the table are lost (rare: out of memory).
      return luaL_error(L, "not enough memory");
    }
    p.write(buf, first, kReplyGroup);
    lua_pushlightuserdata(L, buf);
    lua_pushinteger(L, lua_Integer(n));
    if (groups > 1) {
      lua_rawseti(L, -3, 2 * lua_Integer(g) + 2);
      lua_rawseti(L, -2, 2 * lua_Integer(g) + 1);
    }
  }
  return groups > 1 ? 1 : 2;
}

int lfree(lua_State* L) {
  if (void* p = lua_touserdata(L, 1)) mem_free(p);
  return 0;
}

std::string_view opt_secret(lua_State* L, int i) {
  size_t n = 0;
  const char* s = lua_isnoneornil(L, i) ? nullptr : luaL_checklstring(L, i, &n);
  return s ? std::string_view(s, n) : std::string_view();
}

template <size_t N>
std::string_view bytes_of(const std::array<uint8_t, N>& a) {
  return {reinterpret_cast<const char*>(a.data()), N};
}

template <size_t N>
bool array_from(lua_State* L, int i, std::array<uint8_t, N>& a) {
  size_t n = 0;
  const char* s = lua_tolstring(L, i, &n);
  if (!s || n != N) return false;
  std::memcpy(a.data(), s, N);
  return true;
}

// core.hello(secret) -> frame, server_nonce
int lhello(lua_State* L) {
  hello h;
  h.auth = !opt_secret(L, 1).empty();
  std::string frame;
  bool failed = false;
  try {
    h.server_nonce = random_nonce();
    frame = control_frame(kind::hello, encode(h));
  } catch (const std::exception&) {
    failed = true;
  }
  if (failed) return luaL_error(L, "cluster: cannot make a nonce");
  lua_pushlstring(L, frame.data(), frame.size());
  lua_pushlstring(L, bytes_of(h.server_nonce).data(), kNonceBytes);
  return 2;
}

// core.join(hello_body, secret, name) -> frame, expected_welcome | nil, reason
int ljoin(lua_State* L) {
  size_t n = 0;
  const char* body = luaL_checklstring(L, 1, &n);
  std::string_view secret = opt_secret(L, 2);
  size_t name_len = 0;
  const char* name = luaL_optlstring(L, 3, "", &name_len);
  std::string frame, why, expected;
  bool ok = false;
  try {
    hello h;
    if (!decode(std::string_view(body, n), h, &why)) {
    } else if (h.version != kVersion) {
      why = "the peer speaks protocol version " + std::to_string(h.version) + ", not 1";
    } else if (h.auth && secret.empty()) {
      why = "the peer requires a cluster secret (cluster_secret) and this node has none";
    } else if (!h.auth && !secret.empty()) {
      why = "the peer has no cluster secret and this node requires one";
    } else {
      join j;
      j.client_nonce = random_nonce();
      j.has_mac = !secret.empty();
      if (j.has_mac) {
        j.proof = join_mac(secret, h.server_nonce, j.client_nonce);
        expected = std::string(bytes_of(welcome_mac(secret, h.server_nonce, j.client_nonce)));
      }
      j.name.assign(name, std::min<size_t>(name_len, 255));
      frame = control_frame(kind::join, encode(j));
      ok = true;
    }
  } catch (const std::exception& e) {
    why = std::string("handshake failed: ") + e.what();
  }
  if (!ok) {
    lua_pushnil(L);
    lua_pushlstring(L, why.data(), why.size());
    return 2;
  }
  lua_pushlstring(L, frame.data(), frame.size());
  if (expected.empty())
    lua_pushboolean(L, 0);
  else
    lua_pushlstring(L, expected.data(), expected.size());
  return 2;
}

// core.accept(join_body, server_nonce, secret) -> true, welcome_frame, name | false, why,
// refuse_frame
int laccept(lua_State* L) {
  size_t n = 0;
  const char* body = luaL_checklstring(L, 1, &n);
  nonce server{};
  if (!array_from(L, 2, server)) return luaL_argerror(L, 2, "a 32-byte nonce");
  std::string_view secret = opt_secret(L, 3);
  std::string why, frame, name;
  bool ok = false;
  try {
    join j;
    if (decode(std::string_view(body, n), j, &why)) {
      name = j.name;
      if (auto refused = check_join(j, server, secret)) {
        why = *refused;
      } else {
        welcome w;
        w.has_mac = !secret.empty();
        if (w.has_mac) w.proof = welcome_mac(secret, server, j.client_nonce);
        frame = control_frame(kind::welcome, encode(w));
        ok = true;
      }
    }
    if (!ok) frame = control_frame(kind::refuse, why);
  } catch (const std::exception& e) {
    why = std::string("handshake failed: ") + e.what();
  }
  lua_pushboolean(L, ok);
  if (ok) {
    lua_pushlstring(L, frame.data(), frame.size());
    lua_pushlstring(L, name.data(), name.size());
  } else {
    lua_pushlstring(L, why.data(), why.size());
    lua_pushlstring(L, frame.data(), frame.size());
  }
  return 3;
}

// core.welcome(body, expected) -> true | false, reason
int lwelcome(lua_State* L) {
  size_t n = 0;
  const char* body = luaL_checklstring(L, 1, &n);
  welcome w;
  std::string why;
  bool ok = decode(std::string_view(body, n), w, &why);
  if (ok) {
    mac expected{};
    bool want = array_from(L, 2, expected);
    if (want != w.has_mac) {
      ok = false;
      why = "the peer's WELCOME does not match the secret setting";
    } else if (want && !same_mac(expected, w.proof)) {
      ok = false;
      why = "the peer failed to prove the cluster secret";
    }
  }
  if (ok) {
    lua_pushboolean(L, 1);
    return 1;
  }
  lua_pushboolean(L, 0);
  lua_pushlstring(L, why.data(), why.size());
  return 2;
}

int lnodename(lua_State* L) {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "localhost");
  lua_pushfstring(L, "%s-%d", host, int(getpid()));
  return 1;
}

}  // namespace
}  // namespace tern::cluster

extern "C" int luaopen_skynet_cluster_core(lua_State* L) {
  using namespace tern::cluster;
  luaL_checkversion(L);
  if (luaL_newmetatable(L, kDecoderMeta)) {
    const luaL_Reg methods[] = {{"feed", lfeed},
                                {"pop", lpop},
                                {"ready", lready},
                                {"buffered", lbuffered},
                                {nullptr, nullptr}};
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, decoder_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  const luaL_Reg functions[] = {
      {"decoder", ldecoder},   {"request", lrequest}, {"reply", lreply},   {"free", lfree},
      {"hello", lhello},       {"join", ljoin},       {"accept", laccept}, {"welcome", lwelcome},
      {"nodename", lnodename}, {nullptr, nullptr},
  };
  luaL_newlib(L, functions);
  const struct {
    const char* name;
    kind k;
  } kinds[] = {{"CALL", kind::call},       {"SEND", kind::send},    {"OK", kind::ok},
               {"ERR", kind::err},         {"HELLO", kind::hello},  {"JOIN", kind::join},
               {"WELCOME", kind::welcome}, {"REFUSE", kind::refuse}};
  for (const auto& k : kinds) {
    lua_pushinteger(L, lua_Integer(k.k));
    lua_setfield(L, -2, k.name);
  }
  lua_pushinteger(L, lua_Integer(limits{}.max_message));
  lua_setfield(L, -2, "MAX_MESSAGE");
  return 1;
}
