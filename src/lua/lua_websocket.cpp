// tern.httpcore's WebSocket half (see lua_http.hpp), on src/http/websocket:
//
//   hc.ws_accept(key) -> Sec-WebSocket-Accept value
//   hc.ws_key() -> a fresh random Sec-WebSocket-Key
//   hc.ws_handshake(upgrade, connection, version, key) -> status, response, why
//       checks a client's opening handshake headers (strings or nil): 101 and
//       the response head (without its final CRLF, so that headers can be
//       added), or 400/426 and a complete error response
//   hc.ws_frame(op, payload [, fin [, mask]]) -> frame bytes
//       op: "text" "binary" "ping" "pong" "close" "continuation" ("frame");
//       mask: nil/false none, true a random key, an integer a key (big-endian,
//       as skynet's masking_key)
//   hc.ws_close_payload(code, reason) -> a close frame's payload
//   hc.ws_decoder(role, max_frame, max_message) -> dec   role "server"/"client"
//   dec:feed(data) -> ok                 false once a protocol rule was broken
//   dec:next() -> kind, ...              the oldest decoded event, or nothing:
//       "text"/"binary", payload | "ping"/"pong", payload | "close", code, reason
//   dec:error() -> code, why             the close code to send, or nothing
#include <array>
#include <cstdint>
#include <deque>
#include <new>
#include <string>

#include "http/websocket.hpp"
#include "lua/lua_http.hpp"

namespace tern::lua::http_binding {
namespace {

namespace ws = http::ws;

constexpr const char* kDecoderMeta = "tern.httpcore.ws_decoder";

// Results built by C++ are written here (a userdata, upvalue 1) and then
// pushed, so a Lua error while pushing leaks nothing.
struct scratch {
  std::string out;
  std::string why;
};

scratch* scratch_of(lua_State* L) { return static_cast<scratch*>(lua_touserdata(L, lua_upvalueindex(1))); }

int scratch_gc(lua_State* L) {
  static_cast<scratch*>(lua_touserdata(L, 1))->~scratch();
  return 0;
}

void push_out(lua_State* L, scratch* s) {
  lua_pushlstring(L, s->out.data(), s->out.size());
  if (s->out.capacity() > (64u << 10))
    s->out = std::string();  // do not keep the largest frame ever sent
  else
    s->out.clear();
}

[[noreturn]] void raise(lua_State* L, const char* what) {
  luaL_error(L, "httpcore: %s", what);
  __builtin_unreachable();
}

int ws_accept(lua_State* L) {
  std::size_t n;
  const char* key = luaL_checklstring(L, 1, &n);
  scratch* s = scratch_of(L);
  bool failed = false;
  try {
    s->out = ws::accept_key(std::string_view(key, n));
  } catch (...) {
    failed = true;
  }
  if (failed) raise(L, "not enough memory");
  push_out(L, s);
  return 1;
}

int ws_key(lua_State* L) {
  scratch* s = scratch_of(L);
  bool failed = false;
  try {
    s->out = ws::client_key();
  } catch (...) {
    failed = true;
  }
  if (failed) raise(L, "no random bytes for a key");
  push_out(L, s);
  return 1;
}

int ws_handshake(lua_State* L) {
  static constexpr const char* names[] = {"Upgrade", "Connection", "Sec-WebSocket-Version",
                                          "Sec-WebSocket-Key"};
  std::array<ws::header, 4> headers;
  std::size_t count = 0;
  for (int i = 0; i < 4; ++i) {
    std::size_t n;
    const char* v = luaL_optlstring(L, i + 1, nullptr, &n);
    if (v) headers[count++] = {names[i], std::string_view(v, n)};
  }
  scratch* s = scratch_of(L);
  int status = 0;
  bool failed = false;
  try {
    ws::handshake_result r = ws::server_handshake(std::span(headers.data(), count));
    status = r.status;
    s->out = std::move(r.response);
    s->why = std::move(r.error);
    // The 101 head ends with the blank line; the caller may add headers.
    if (status == 101) s->out.resize(s->out.size() - 2);
  } catch (...) {
    failed = true;
  }
  if (failed) raise(L, "not enough memory");
  lua_pushinteger(L, status);
  push_out(L, s);
  lua_pushlstring(L, s->why.data(), s->why.size());
  return 3;
}

bool opcode_of(std::string_view name, ws::opcode& op) {
  if (name == "text") op = ws::opcode::text;
  else if (name == "binary") op = ws::opcode::binary;
  else if (name == "ping") op = ws::opcode::ping;
  else if (name == "pong") op = ws::opcode::pong;
  else if (name == "close") op = ws::opcode::close;
  else if (name == "continuation" || name == "frame") op = ws::opcode::continuation;
  else return false;
  return true;
}

int ws_frame(lua_State* L) {
  std::size_t on, pn;
  const char* opname = luaL_checklstring(L, 1, &on);
  const char* payload = luaL_optlstring(L, 2, "", &pn);
  bool fin = lua_isnoneornil(L, 3) || lua_toboolean(L, 3);
  ws::opcode op;
  if (!opcode_of(std::string_view(opname, on), op)) return luaL_argerror(L, 1, "unknown opcode");
  ws::mask_key key{};
  bool masked = false, random = false;
  if (lua_isinteger(L, 4)) {
    auto k = uint32_t(lua_tointeger(L, 4));
    key = {uint8_t(k >> 24), uint8_t(k >> 16), uint8_t(k >> 8), uint8_t(k)};
    masked = true;
  } else if (lua_toboolean(L, 4)) {
    masked = random = true;
  }
  scratch* s = scratch_of(L);
  bool failed = false;
  try {
    if (random) key = ws::random_mask();
    s->out.clear();
    ws::append_frame(s->out, op, std::string_view(payload, pn), fin, masked ? &key : nullptr);
  } catch (...) {
    failed = true;
  }
  if (failed) raise(L, "cannot build the frame (out of memory or random bytes)");
  push_out(L, s);
  return 1;
}

int ws_close_payload(lua_State* L) {
  lua_Integer code = luaL_optinteger(L, 1, 0);
  std::size_t n;
  const char* reason = luaL_optlstring(L, 2, "", &n);
  luaL_argcheck(L, code >= 0 && code <= 0xffff, 1, "close code out of range");
  scratch* s = scratch_of(L);
  bool failed = false;
  try {
    s->out = ws::close_payload(uint16_t(code), std::string_view(reason, n));
  } catch (...) {
    failed = true;
  }
  if (failed) raise(L, "not enough memory");
  push_out(L, s);
  return 1;
}

// --- decoder -------------------------------------------------------------------

struct event {
  ws::opcode op;
  uint16_t code = 0;    // close
  std::string payload;  // message, ping/pong payload, close reason
};

struct decoder_box {
  std::deque<event> events;
  ws::decoder dec;

  decoder_box(ws::role role, ws::limits lim)
      : dec(role,
            ws::decoder::callbacks{
                [this](ws::opcode op, std::string_view p) { events.push_back({op, 0, std::string(p)}); },
                [this](ws::opcode op, std::string_view p) { events.push_back({op, 0, std::string(p)}); },
                [this](uint16_t code, std::string_view reason) {
                  events.push_back({ws::opcode::close, code, std::string(reason)});
                },
            },
            lim) {}
};

decoder_box* check_decoder(lua_State* L) { return static_cast<decoder_box*>(luaL_checkudata(L, 1, kDecoderMeta)); }

int decoder_new(lua_State* L) {
  static const char* const roles[] = {"server", "client", nullptr};
  ws::role role = luaL_checkoption(L, 1, nullptr, roles) == 0 ? ws::role::server : ws::role::client;
  ws::limits lim;
  if (!lua_isnoneornil(L, 2)) lim.max_frame = uint64_t(luaL_checkinteger(L, 2));
  if (!lua_isnoneornil(L, 3)) lim.max_message = uint64_t(luaL_checkinteger(L, 3));
  void* mem = lua_newuserdatauv(L, sizeof(decoder_box), 0);
  bool failed = false;
  try {
    new (mem) decoder_box(role, lim);
  } catch (...) {
    failed = true;
  }
  if (failed) raise(L, "not enough memory");
  luaL_setmetatable(L, kDecoderMeta);
  return 1;
}

int decoder_gc(lua_State* L) {
  check_decoder(L)->~decoder_box();
  return 0;
}

int decoder_feed(lua_State* L) {
  decoder_box* b = check_decoder(L);
  std::size_t n;
  const char* data = luaL_checklstring(L, 2, &n);
  bool ok = false, failed = false;
  try {
    ok = b->dec.feed(std::string_view(data, n));
  } catch (...) {
    failed = true;
  }
  if (failed) raise(L, "not enough memory");
  lua_pushboolean(L, ok);
  return 1;
}

int decoder_next(lua_State* L) {
  decoder_box* b = check_decoder(L);
  if (b->events.empty()) return 0;
  const event& e = b->events.front();
  int n = 2;
  switch (e.op) {
    case ws::opcode::text: lua_pushliteral(L, "text"); break;
    case ws::opcode::binary: lua_pushliteral(L, "binary"); break;
    case ws::opcode::ping: lua_pushliteral(L, "ping"); break;
    case ws::opcode::pong: lua_pushliteral(L, "pong"); break;
    default:
      lua_pushliteral(L, "close");
      lua_pushinteger(L, e.code);
      n = 3;
      break;
  }
  lua_pushlstring(L, e.payload.data(), e.payload.size());
  b->events.pop_front();  // after the pushes (see lua_http.hpp)
  return n;
}

int decoder_error(lua_State* L) {
  decoder_box* b = check_decoder(L);
  if (!b->dec.failed()) return 0;
  lua_pushinteger(L, b->dec.error());
  std::string_view why = b->dec.error_reason();  // static text
  lua_pushlstring(L, why.data(), why.size());
  return 2;
}

int decoder_closed(lua_State* L) {
  lua_pushboolean(L, check_decoder(L)->dec.closed());
  return 1;
}

}  // namespace

void open_websocket(lua_State* L) {
  luaL_newmetatable(L, kDecoderMeta);
  const luaL_Reg methods[] = {
      {"feed", decoder_feed},     {"next", decoder_next}, {"error", decoder_error},
      {"closed", decoder_closed}, {"__gc", decoder_gc},   {nullptr, nullptr},
  };
  luaL_setfuncs(L, methods, 0);
  lua_pushvalue(L, -1);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);

  new (lua_newuserdatauv(L, sizeof(scratch), 0)) scratch();
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, scratch_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  const luaL_Reg functions[] = {
      {"ws_accept", ws_accept},   {"ws_key", ws_key},
      {"ws_handshake", ws_handshake}, {"ws_frame", ws_frame},
      {"ws_close_payload", ws_close_payload}, {nullptr, nullptr},
  };
  luaL_setfuncs(L, functions, 1);  // the scratch buffer as upvalue 1 (popped)
  lua_pushcfunction(L, decoder_new);
  lua_setfield(L, -2, "ws_decoder");
}

}  // namespace tern::lua::http_binding
