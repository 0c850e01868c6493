// tern.server's Http and WebSocket servers (swoole's Http\Server and
// WebSocket\Server for Lua scripts):
//
//   local s = server.http("127.0.0.1", 9501, server.BASE)
//   s:on("Request", function(req, resp)
//     resp:header("Content-Type", "text/plain")
//     resp:done("Hello, World!")           -- or resp["end"](resp, "...")
//   end)
//   s:start()
//
// A request is a plain table (fd, header, server, get, post, cookie, files;
// the last four nil when absent) with rawContent()/getContent()/getMethod()
// from its metatable. A response is a userdata holding an http_response copy
// (http_response::hold()), so a response Lua keeps past the callback stays
// open; one that is collected unended is ended with 500 (after the current
// callback: see end_orphans()). docs/server.md has the whole API.
//
// Threading: as lua_server.cpp: one Lua state per process, callbacks on its
// main thread.
#include <lua.hpp>

#include <map>
#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/lua_server.hpp"
#include "tern/server/http.hpp"

namespace tern::server::lua {
namespace {

const char kResponseMeta[] = "tern.server.response";
const char kRequestMeta[] = "tern.server.request";
const char kBodyKey = 0;  // its address: the request table's key for the raw body

struct lua_response {
  http_response r;
};

// Responses whose Lua objects were collected unended, to end with 500.
std::vector<http_response>& orphans() {
  static std::vector<http_response> list;
  return list;
}

// ---------------------------------------------------------------- requests

void push_map(lua_State* L, const std::map<std::string, std::string>& m) {
  lua_createtable(L, 0, int(m.size()));
  for (const auto& [k, v] : m) {
    lua_pushlstring(L, k.data(), k.size());
    lua_pushlstring(L, v.data(), v.size());
    lua_rawset(L, -3);
  }
}

// As push_map, and nil for an empty map (swoole leaves get/post/cookie/files null).
void push_optional_map(lua_State* L, const std::map<std::string, std::string>& m) {
  if (m.empty())
    lua_pushnil(L);
  else
    push_map(L, m);
}

// server: swoole's keys; the numeric ones as numbers, as PHP sees them.
void push_server_map(lua_State* L, const std::map<std::string, std::string>& m) {
  lua_createtable(L, 0, int(m.size()));
  for (const auto& [k, v] : m) {
    lua_pushlstring(L, k.data(), k.size());
    bool numeric = k == "remote_port" || k == "server_port" || k == "request_time" ||
                   k == "request_time_float" || k == "master_time";
    if (!numeric || lua_stringtonumber(L, v.c_str()) == 0) lua_pushlstring(L, v.data(), v.size());
    lua_rawset(L, -3);
  }
}

void push_files(lua_State* L, const std::map<std::string, uploaded_file>& files) {
  if (files.empty()) {
    lua_pushnil(L);
    return;
  }
  lua_createtable(L, 0, int(files.size()));
  for (const auto& [field, f] : files) {
    lua_createtable(L, 0, 5);
    lua_pushlstring(L, f.name.data(), f.name.size());
    lua_setfield(L, -2, "name");
    lua_pushlstring(L, f.type.data(), f.type.size());
    lua_setfield(L, -2, "type");
    lua_pushlstring(L, f.tmp_name.data(), f.tmp_name.size());
    lua_setfield(L, -2, "tmp_name");
    lua_pushinteger(L, f.error);
    lua_setfield(L, -2, "error");
    lua_pushinteger(L, f.size);
    lua_setfield(L, -2, "size");
    lua_setfield(L, -2, field.c_str());
  }
}

void push_request(lua_State* L, const http_request& req) {
  lua_createtable(L, 0, 8);
  lua_pushinteger(L, req.fd);
  lua_setfield(L, -2, "fd");
  push_map(L, req.header);
  lua_setfield(L, -2, "header");
  push_server_map(L, req.server);
  lua_setfield(L, -2, "server");
  push_optional_map(L, req.get);
  lua_setfield(L, -2, "get");
  push_optional_map(L, req.post);
  lua_setfield(L, -2, "post");
  push_optional_map(L, req.cookie);
  lua_setfield(L, -2, "cookie");
  push_files(L, req.files);
  lua_setfield(L, -2, "files");
  lua_pushlightuserdata(L, const_cast<char*>(&kBodyKey));
  lua_pushlstring(L, req.body.data(), req.body.size());
  lua_rawset(L, -3);
  luaL_setmetatable(L, kRequestMeta);
}

// req:rawContent() / req:getContent(): the body, de-chunked ("" when none).
int lraw_content(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_pushlightuserdata(L, const_cast<char*>(&kBodyKey));
  if (lua_rawget(L, 1) != LUA_TSTRING) lua_pushliteral(L, "");
  return 1;
}

// req:getMethod()
int lget_method(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  if (lua_getfield(L, 1, "server") == LUA_TTABLE) lua_getfield(L, -1, "request_method");
  return 1;
}

// ---------------------------------------------------------------- responses

void push_response(lua_State* L, const http_response& resp) {
  auto* u = static_cast<lua_response*>(lua_newuserdatauv(L, sizeof(lua_response), 0));
  new (u) lua_response{resp.hold()};
  luaL_setmetatable(L, kResponseMeta);
}

http_response& check_response(lua_State* L) { return static_cast<lua_response*>(luaL_checkudata(L, 1, kResponseMeta))->r; }

std::string_view opt_str(lua_State* L, int i) {
  size_t n = 0;
  const char* p = luaL_optlstring(L, i, "", &n);
  return {p, n};
}

int ok(lua_State* L, bool b) {
  lua_pushboolean(L, b);
  return 1;
}

int lstatus(lua_State* L) {
  http_response& r = check_response(L);
  return ok(L, r.status(int(luaL_checkinteger(L, 2)), opt_str(L, 3)));
}
int lheader(lua_State* L) {
  http_response& r = check_response(L);
  return ok(L, r.header(str(L, 2), str(L, 3)));
}
// resp:cookie(name, value [, expires, path, domain, secure, httponly, samesite])
int lcookie(lua_State* L) {
  http_response& r = check_response(L);
  cookie_options o;
  o.expires = luaL_optinteger(L, 4, 0);
  o.path = luaL_optstring(L, 5, "/");
  o.domain = luaL_optstring(L, 6, "");
  o.secure = lua_toboolean(L, 7);
  o.httponly = lua_toboolean(L, 8);
  o.samesite = luaL_optstring(L, 9, "");
  return ok(L, r.cookie(str(L, 2), opt_str(L, 3), o));
}
int lwrite(lua_State* L) {
  http_response& r = check_response(L);
  return ok(L, r.write(str(L, 2)));
}
int lend(lua_State* L) {
  http_response& r = check_response(L);
  return ok(L, r.end(opt_str(L, 2)));
}
int lsendfile(lua_State* L) {
  http_response& r = check_response(L);
  return ok(L, r.sendfile(std::string(str(L, 2)), luaL_optinteger(L, 3, 0), luaL_optinteger(L, 4, 0)));
}
int lredirect(lua_State* L) {
  http_response& r = check_response(L);
  return ok(L, r.redirect(str(L, 2), int(luaL_optinteger(L, 3, 302))));
}
int lis_writable(lua_State* L) { return ok(L, check_response(L).is_writable()); }

// resp.fd, else the methods (upvalue 1).
int lresponse_index(lua_State* L) {
  http_response& r = check_response(L);
  size_t n = 0;
  const char* k = lua_tolstring(L, 2, &n);
  if (k && std::string_view(k, n) == "fd") {
    lua_pushinteger(L, r.fd());
    return 1;
  }
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));
  return 1;
}

int lresponse_gc(lua_State* L) {
  auto* u = static_cast<lua_response*>(luaL_checkudata(L, 1, kResponseMeta));
  if (u->r.is_writable()) orphans().push_back(u->r.hold());
  u->~lua_response();
  return 0;
}

// ---------------------------------------------------------------- callbacks

bool has_callback(handle* h, const char* event) {
  if (!push_callback(h, event, false)) return false;
  lua_pop(h->L, 1);
  return true;
}

void push_frame(lua_State* L, const ws_frame& f) {
  lua_createtable(L, 0, 5);
  lua_pushinteger(L, f.fd);
  lua_setfield(L, -2, "fd");
  lua_pushlstring(L, f.data.data(), f.data.size());
  lua_setfield(L, -2, "data");
  lua_pushinteger(L, f.opcode);
  lua_setfield(L, -2, "opcode");
  lua_pushboolean(L, f.finish);
  lua_setfield(L, -2, "finish");
  if (f.opcode == WEBSOCKET_OPCODE_CLOSE) {
    lua_pushinteger(L, f.code);
    lua_setfield(L, -2, "code");
  }
}

// ---------------------------------------------------------------- websocket methods

websocket_server& ws(lua_State* L, const char* method) {
  handle* h = check(L);
  if (h->k != kind::websocket) luaL_error(L, "%s: not a WebSocket server", method);
  return static_cast<websocket_server&>(srv(L));
}

// s:push(fd, data [, opcode [, finish]])
int lpush(lua_State* L) {
  websocket_server& s = ws(L, "push");
  int opcode = int(luaL_optinteger(L, 4, WEBSOCKET_OPCODE_TEXT));
  bool finish = lua_isnone(L, 5) || lua_toboolean(L, 5);
  return ok(L, s.push(int(luaL_checkinteger(L, 2)), str(L, 3), opcode, finish));
}
// s:disconnect(fd [, code [, reason]])
int ldisconnect(lua_State* L) {
  websocket_server& s = ws(L, "disconnect");
  return ok(L, s.disconnect(int(luaL_checkinteger(L, 2)), int(luaL_optinteger(L, 3, 1000)), opt_str(L, 4)));
}
int lis_established(lua_State* L) {
  websocket_server& s = ws(L, "isEstablished");
  return ok(L, s.is_established(int(luaL_checkinteger(L, 2))));
}

// server.websocketAcceptKey(key): Sec-WebSocket-Accept, for HandShake callbacks.
int laccept_key(lua_State* L) {
  std::string k = websocket_server::accept_key(str(L, 1));
  lua_pushlstring(L, k.data(), k.size());
  return 1;
}

}  // namespace

void end_orphans() {
  if (orphans().empty()) return;
  std::vector<http_response> list;
  list.swap(orphans());
  for (http_response& r : list) {
    if (!r.is_writable()) continue;
    r.status(500);
    r.end();
  }
}

void wire_http(handle* h) {
  auto& hs = static_cast<http_server&>(*h->s);
  if (has_callback(h, "request")) {
    hs.on_request = [h](http_request& req, http_response& resp) {
      lua_State* L = h->L;
      if (!push_callback(h, "request", false)) return;
      push_request(L, req);
      push_response(L, resp);
      int rc = call_function(h, "Request", 2);
      if (!resp.is_writable()) return;
      if (rc < 0) {  // the callback raised before ending it
        resp.status(500);
        resp.end();
        return;
      }
      // Not ended: kept open only if Lua still refers to it. A full collection
      // finds out now rather than at some later allocation (it costs only the
      // handlers that answer later).
      lua_gc(L, LUA_GCCOLLECT);
      end_orphans();
    };
  }
  if (h->k != kind::websocket) return;
  auto& wss = static_cast<websocket_server&>(hs);
  if (has_callback(h, "handshake")) {
    wss.on_handshake = [h](http_request& req, http_response& resp) {
      lua_State* L = h->L;
      if (!push_callback(h, "handshake", false)) return false;
      push_request(L, req);
      push_response(L, resp);
      if (call_function(h, "HandShake", 2, 1) != 1) return false;
      bool accepted = lua_toboolean(L, -1);
      lua_pop(L, 1);
      return accepted;
    };
  }
  if (has_callback(h, "open")) {
    wss.on_open = [h](websocket_server&, http_request& req) {
      if (!push_callback(h, "open")) return;
      push_request(h->L, req);
      call(h, "Open", 1);
    };
  }
  if (has_callback(h, "message")) {
    wss.on_message = [h](websocket_server&, ws_frame& frame) {
      if (!push_callback(h, "message")) return;
      push_frame(h->L, frame);
      call(h, "Message", 1);
    };
  }
}

void add_http_methods(lua_State* L) {
  static const luaL_Reg methods[] = {
      {"push", lpush},
      {"disconnect", ldisconnect},
      {"isEstablished", lis_established},
      {nullptr, nullptr},
  };
  luaL_setfuncs(L, methods, 0);
}

void open_http(lua_State* L) {
  static const luaL_Reg response_methods[] = {
      {"status", lstatus},   {"setStatusCode", lstatus},
      {"header", lheader},   {"setHeader", lheader},
      {"cookie", lcookie},   {"setCookie", lcookie},
      {"write", lwrite},     {"end", lend},
      {"done", lend},        {"sendfile", lsendfile},
      {"redirect", lredirect}, {"isWritable", lis_writable},
      {nullptr, nullptr},
  };
  luaL_newmetatable(L, kResponseMeta);
  lua_pushcfunction(L, lresponse_gc);
  lua_setfield(L, -2, "__gc");
  luaL_newlib(L, response_methods);
  lua_pushcclosure(L, lresponse_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);

  static const luaL_Reg request_methods[] = {
      {"rawContent", lraw_content},
      {"getContent", lraw_content},
      {"getMethod", lget_method},
      {nullptr, nullptr},
  };
  luaL_newmetatable(L, kRequestMeta);
  luaL_newlib(L, request_methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);

  // The module table is at -1.
  const std::pair<const char*, int> constants[] = {
      {"WEBSOCKET_OPCODE_TEXT", WEBSOCKET_OPCODE_TEXT},   {"WEBSOCKET_OPCODE_BINARY", WEBSOCKET_OPCODE_BINARY},
      {"WEBSOCKET_OPCODE_CLOSE", WEBSOCKET_OPCODE_CLOSE}, {"WEBSOCKET_OPCODE_PING", WEBSOCKET_OPCODE_PING},
      {"WEBSOCKET_OPCODE_PONG", WEBSOCKET_OPCODE_PONG}};
  for (auto [name, value] : constants) {
    lua_pushinteger(L, value);
    lua_setfield(L, -2, name);
  }
  lua_pushcfunction(L, laccept_key);
  lua_setfield(L, -2, "websocketAcceptKey");
}

}  // namespace tern::server::lua
