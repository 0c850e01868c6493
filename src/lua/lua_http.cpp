// tern.httpcore: request and response parsers for Lua (see lua_http.hpp).
#include "lua/lua_http.hpp"

#include <cstddef>
#include <deque>
#include <new>
#include <string>

#include "http/request_parser.hpp"
#include "http/response.hpp"
#include "http/response_parser.hpp"

namespace tern::lua::http_binding {

void push_lower(lua_State* L, std::string_view name) {
  luaL_Buffer b;
  char* p = luaL_buffinitsize(L, &b, name.size());
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    p[i] = (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c;
  }
  luaL_pushresultsize(&b, name.size());
}

void add_header(lua_State* L, int index, std::string_view name, std::string_view value) {
  index = lua_absindex(L, index);
  push_lower(L, name);
  lua_pushvalue(L, -1);
  switch (lua_rawget(L, index)) {
    case LUA_TNIL:
      lua_pop(L, 1);
      lua_pushlstring(L, value.data(), value.size());
      lua_rawset(L, index);
      return;
    case LUA_TTABLE:
      lua_pushlstring(L, value.data(), value.size());
      lua_rawseti(L, -2, lua_Integer(lua_rawlen(L, -2) + 1));
      lua_pop(L, 2);
      return;
    default:  // the second value: {first, second}
      lua_createtable(L, 2, 0);
      lua_insert(L, -2);
      lua_rawseti(L, -2, 1);
      lua_pushlstring(L, value.data(), value.size());
      lua_rawseti(L, -2, 2);
      lua_rawset(L, index);
      return;
  }
}

namespace {

constexpr const char* kRequestMeta = "tern.httpcore.request_parser";
constexpr const char* kResponseMeta = "tern.httpcore.response_parser";

// Pushes a header table: the one at `target` (0: a new table).
void push_headers(lua_State* L, int target, const http::header_list& list) {
  if (target != 0)
    lua_pushvalue(L, target);
  else
    lua_createtable(L, 0, int(list.size()));
  for (const auto& h : list) add_header(L, -1, h.name, h.value);
}

std::size_t opt_size(lua_State* L, int index, std::size_t fallback) {
  if (lua_isnoneornil(L, index) || (lua_isboolean(L, index) && !lua_toboolean(L, index))) return fallback;
  lua_Integer n = luaL_checkinteger(L, index);
  luaL_argcheck(L, n >= 0, index, "a limit must not be negative");
  return std::size_t(n);
}

// --- request parser ------------------------------------------------------------

struct request_box {
  http::request_parser parser;
  std::deque<http::request> ready;  // complete, not yet popped
  std::string rest;                 // bytes after an upgrade request

  request_box() {
    parser.on_request([this](http::request& r) { ready.push_back(std::move(r)); });
  }
};

request_box* check_request(lua_State* L) { return static_cast<request_box*>(luaL_checkudata(L, 1, kRequestMeta)); }

int request_new(lua_State* L) {
  void* mem = lua_newuserdatauv(L, sizeof(request_box), 0);
  bool ok = true;
  try {
    new (mem) request_box();
  } catch (...) {
    ok = false;
  }
  if (!ok) return luaL_error(L, "httpcore: not enough memory");
  luaL_setmetatable(L, kRequestMeta);
  return 1;
}

int request_gc(lua_State* L) {
  check_request(L)->~request_box();
  return 0;
}

int request_limits(lua_State* L) {
  request_box* b = check_request(L);
  http::parser_limits lim = b->parser.limits();
  lim.max_header_bytes = opt_size(L, 2, http::parser_limits{}.max_header_bytes);
  lim.max_body_bytes = opt_size(L, 3, std::size_t(-1));
  b->parser.set_limits(lim);
  return 0;
}

int request_feed(lua_State* L) {
  request_box* b = check_request(L);
  std::size_t n;
  const char* data = luaL_checklstring(L, 2, &n);
  bool oom = false;
  try {
    if (b->parser.upgraded()) {
      b->rest.append(data, n);
    } else {
      std::size_t used = b->parser.feed(data, n);
      if (b->parser.upgraded()) b->rest.append(data + used, n - used);
    }
  } catch (...) {
    oom = true;
  }
  if (oom) return luaL_error(L, "httpcore: not enough memory");
  lua_pushboolean(L, !b->parser.failed());
  return 1;
}

int request_pop(lua_State* L) {
  request_box* b = check_request(L);
  if (b->ready.empty()) return 0;
  const http::request& r = b->ready.front();
  int target = lua_istable(L, 2) ? 2 : 0;
  lua_pushlstring(L, r.method.data(), r.method.size());
  lua_pushlstring(L, r.target.data(), r.target.size());
  push_headers(L, target, r.headers);
  for (const auto& h : r.trailers) add_header(L, -1, h.name, h.value);
  lua_pushlstring(L, r.body.data(), r.body.size());
  lua_pushfstring(L, "%d.%d", r.version_major, r.version_minor);
  lua_pushboolean(L, r.keep_alive);
  lua_pushboolean(L, r.upgrade);
  b->ready.pop_front();  // after the pushes: an out-of-memory error keeps it queued
  return 7;
}

int request_error(lua_State* L) {
  request_box* b = check_request(L);
  if (!b->parser.failed()) return 0;
  const http::parse_error& e = b->parser.error();
  lua_pushinteger(L, e.status);
  lua_pushlstring(L, e.reason.data(), e.reason.size());
  return 2;
}

int request_rest(lua_State* L) {
  request_box* b = check_request(L);
  lua_pushlstring(L, b->rest.data(), b->rest.size());
  b->rest.clear();
  return 1;
}

// --- response parser -----------------------------------------------------------

struct response_box {
  http::response_parser parser;
  std::string rest;  // bytes after the response

  explicit response_box(http::response_limits lim) : parser(lim) {}
};

response_box* check_response(lua_State* L) {
  return static_cast<response_box*>(luaL_checkudata(L, 1, kResponseMeta));
}

int response_new(lua_State* L) {
  http::response_limits lim;
  lim.max_header_bytes = opt_size(L, 1, lim.max_header_bytes);
  lim.max_body_bytes = opt_size(L, 2, lim.max_body_bytes);
  void* mem = lua_newuserdatauv(L, sizeof(response_box), 0);
  bool ok = true;
  try {
    new (mem) response_box(lim);
  } catch (...) {
    ok = false;
  }
  if (!ok) return luaL_error(L, "httpcore: not enough memory");
  luaL_setmetatable(L, kResponseMeta);
  return 1;
}

int response_gc(lua_State* L) {
  check_response(L)->~response_box();
  return 0;
}

int response_no_body(lua_State* L) {
  check_response(L)->parser.no_body(true);
  return 0;
}

// ok, or false and why.
int push_state(lua_State* L, const http::response_parser& p) {
  if (!p.failed()) {
    lua_pushboolean(L, 1);
    return 1;
  }
  lua_pushboolean(L, 0);
  lua_pushlstring(L, p.error().data(), p.error().size());
  return 2;
}

int response_feed(lua_State* L) {
  response_box* b = check_response(L);
  std::size_t n;
  const char* data = luaL_checklstring(L, 2, &n);
  bool oom = false;
  try {
    if (b->parser.done()) {
      b->rest.append(data, n);
    } else {
      std::size_t used = b->parser.feed(data, n);
      if (b->parser.done()) b->rest.append(data + used, n - used);
    }
  } catch (...) {
    oom = true;
  }
  if (oom) return luaL_error(L, "httpcore: not enough memory");
  return push_state(L, b->parser);
}

int response_finish(lua_State* L) {
  response_box* b = check_response(L);
  bool oom = false;
  try {
    b->parser.finish();
  } catch (...) {
    oom = true;
  }
  if (oom) return luaL_error(L, "httpcore: not enough memory");
  return push_state(L, b->parser);
}

int response_head(lua_State* L) {
  response_box* b = check_response(L);
  if (!b->parser.head_done()) return 0;
  lua_pushinteger(L, b->parser.status());
  push_headers(L, lua_istable(L, 2) ? 2 : 0, b->parser.headers());
  lua_pushboolean(L, b->parser.upgrade());
  return 3;
}

int response_trailers(lua_State* L) {
  response_box* b = check_response(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  for (const auto& h : b->parser.trailers()) add_header(L, 2, h.name, h.value);
  return 0;
}

int response_body(lua_State* L) {
  response_box* b = check_response(L);
  // Copy, then clear: taking it out into a local would not survive an
  // out-of-memory error in lua_pushlstring.
  lua_pushlstring(L, b->parser.peek_body().data(), b->parser.peek_body().size());
  b->parser.clear_body();
  return 1;
}

int response_done(lua_State* L) {
  lua_pushboolean(L, check_response(L)->parser.done());
  return 1;
}

int response_rest(lua_State* L) {
  response_box* b = check_response(L);
  lua_pushlstring(L, b->rest.data(), b->rest.size());
  b->rest.clear();
  return 1;
}

int reason(lua_State* L) {
  std::string_view r = http::reason_phrase(int(luaL_checkinteger(L, 1)));
  if (r == "Unknown") r = {};
  lua_pushlstring(L, r.data(), r.size());
  return 1;
}

void new_class(lua_State* L, const char* name, const luaL_Reg* methods) {
  luaL_newmetatable(L, name);
  luaL_setfuncs(L, methods, 0);
  lua_pushvalue(L, -1);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}

}  // namespace
}  // namespace tern::lua::http_binding

extern "C" int luaopen_tern_httpcore(lua_State* L) {
  using namespace tern::lua::http_binding;
  luaL_checkversion(L);
  const luaL_Reg request_methods[] = {
      {"limits", request_limits}, {"feed", request_feed}, {"pop", request_pop},
      {"error", request_error},   {"rest", request_rest}, {"__gc", request_gc},
      {nullptr, nullptr},
  };
  new_class(L, kRequestMeta, request_methods);
  const luaL_Reg response_methods[] = {
      {"no_body", response_no_body}, {"feed", response_feed},   {"finish", response_finish},
      {"head", response_head},       {"body", response_body},   {"done", response_done},
      {"rest", response_rest},       {"trailers", response_trailers}, {"__gc", response_gc},
      {nullptr, nullptr},
  };
  new_class(L, kResponseMeta, response_methods);
  const luaL_Reg functions[] = {
      {"request_parser", request_new},
      {"response_parser", response_new},
      {"reason", reason},
      {nullptr, nullptr},
  };
  luaL_newlib(L, functions);
  open_websocket(L);
  return 1;
}
