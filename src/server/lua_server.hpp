// Shared by the two halves of the tern.server Lua module: lua_server.cpp (the
// plain Server, timers, the module table) and lua_http.cpp (the Http and
// WebSocket servers: requests, responses, frames).
//
// Threading: one Lua state per process; callbacks run on that process's main
// thread (tern::server's contract), so the state is never shared.
#pragma once

#include <lua.hpp>

#include <string_view>

#include "tern/server/server.hpp"

namespace tern::server::lua {

inline constexpr char kServerMeta[] = "tern.server";

// What server.new / server.http / server.websocket made: decides which events
// on() accepts, which methods work, and how the object is deleted (server's
// destructor is not virtual).
enum class kind { plain, http, websocket };

struct handle {
  server* s;
  lua_State* L;  // the main state (callbacks run on it)
  int self_ref;  // the userdata, passed as the callbacks' first argument
  kind k;
};

handle* check(lua_State* L);  // argument 1 is a server object
server& srv(lua_State* L);    // ... that still exists
std::string_view str(lua_State* L, int i);

// Pushes the Lua function registered for `event` (lower case, no "on"), and
// the server object after it when with_self; false (nothing pushed) if none.
bool push_callback(handle* h, const char* event, bool with_self = true);
// Calls the function at -(nargs + 1) with the nargs values above it, in
// protected mode: an error is logged (on<event>) with a traceback and -1
// returned; else nresults (left on the stack).
int call_function(handle* h, const char* event, int nargs, int nresults = 0);
// call_function for what push_callback(h, event) pushed (function, server)
// plus nargs more.
int call(handle* h, const char* event, int nargs, int nresults = 0);

// lua_http.cpp: registers the response metatable and server.http /
// server.websocket / the WebSocket constants into the module table at -1.
void open_http(lua_State* L);
// Installs on_request / on_handshake / on_open / on_message for the callbacks
// the script registered (called by start()).
void wire_http(handle* h);
// Ends (with 500) the responses whose Lua objects were collected unended.
// Runs after every callback: ending one from inside __gc could re-enter the
// server in the middle of an unrelated callback.
void end_orphans();
// Methods of the http and websocket objects (push, disconnect, ...), added to
// the shared method table at -1.
void add_http_methods(lua_State* L);

}  // namespace tern::server::lua
