// tern.httpcore: the C module under lualib/http/{httpd,httpc,websocket}.lua,
// binding src/http (request_parser, response_parser, response, websocket).
// Registered in snlua's package.preload; tern-specific (skynet has no such
// module: its HTTP is plain Lua).
//
//   local hc = require "tern.httpcore"
//   hc.reason(status) -> phrase ("" when unknown)
//
//   hc.request_parser() -> rp            one per connection
//   rp:limits(max_header, max_body)      bytes; max_body nil = unlimited
//   rp:feed(data) -> ok                  false once the parser failed
//   rp:pop([header]) -> method, url, header, body, version, keep_alive, upgrade
//                                        the oldest complete request, or nothing
//   rp:error() -> status, reason         400/413/414/431/505, or nothing
//   rp:rest() -> bytes                   received after an upgrade request
//
//   hc.response_parser(max_header, max_body) -> sp
//   sp:no_body()                         it answers a HEAD request
//   sp:feed(data) -> ok, why             stops after the response (see rest)
//   sp:finish() -> ok, why               the connection ended
//   sp:head([header]) -> status, header, upgrade    once the head is in
//   sp:body() -> bytes                   body bytes received since the last call
//   sp:done() -> bool ; sp:rest() -> bytes after the response
//   sp:trailers(header)                  adds chunked trailers to a header table
//
//   (lua_websocket.cpp)
//   hc.ws_accept(key), hc.ws_key(), hc.ws_handshake(upgrade, connection, version, key)
//   hc.ws_frame(op, payload [, fin [, mask]]), hc.ws_decoder(role, max_frame, max_message)
//
// Header tables have lower-case names; a repeated header's value is a table
// of its values in arrival order (as skynet's http.internal.parseheader).
//
// Lua errors longjmp (Lua is built as C): every C++ call runs inside a try
// block closed before any Lua error can be raised, and what survives a call
// lives in a userdata (freed by __gc), never in a local with a destructor.
//
// Threading: a Lua module; everything runs on the service's worker.
#pragma once

#include <lua.hpp>

#include <string_view>

namespace tern::lua::http_binding {

// Adds the hc.ws_* functions to the module table at the top of the stack.
void open_websocket(lua_State* L);

// Pushes a header name in lower case.
void push_lower(lua_State* L, std::string_view name);

// t[name] = value in the header table at `index`; a repeated name makes the
// value a table of values.
void add_header(lua_State* L, int index, std::string_view name, std::string_view value);

}  // namespace tern::lua::http_binding

extern "C" int luaopen_tern_httpcore(lua_State* L);
