// tern.server: swoole's Server for Lua scripts (`tern-server app.lua`).
//
//   local server = require "tern.server"
//   local s = server.new("127.0.0.1", 9501, server.PROCESS)
//   s:set { worker_num = 2, open_length_check = true, package_length_type = "N" }
//   s:on("Receive", function(s, fd, reactor_id, data) s:send(fd, data) end)
//   s:start()
//
// The script runs in the master; start() forks, so every worker has its own
// copy of the Lua state with the callbacks in it (as PHP scripts under
// swoole). A callback that raises is logged with a traceback; the process
// keeps serving.
//
// Threading: one Lua state per process; callbacks run on that process's main
// thread (tern::server's contract), so the state is never shared.
// The Http and WebSocket parts are in lua_http.cpp.
#include "server/lua_server.hpp"

#include <cctype>
#include <cstdio>
#include <string>
#include <string_view>

#include "tern/server/http.hpp"

namespace tern::server::lua {

handle* check(lua_State* L) { return static_cast<handle*>(luaL_checkudata(L, 1, kServerMeta)); }
server& srv(lua_State* L) {
  handle* h = check(L);
  if (!h->s) luaL_error(L, "tern.server: the server is gone");
  return *h->s;
}

std::string_view str(lua_State* L, int i) {
  size_t n = 0;
  const char* p = luaL_checklstring(L, i, &n);
  return {p, n};
}

namespace {
int traceback(lua_State* L) {
  luaL_traceback(L, L, lua_tostring(L, 1), 1);
  return 1;
}
}  // namespace

bool push_callback(handle* h, const char* event, bool with_self) {
  lua_State* L = h->L;
  lua_rawgeti(L, LUA_REGISTRYINDEX, h->self_ref);
  if (lua_getiuservalue(L, -1, 1) != LUA_TTABLE) {
    lua_pop(L, 2);
    return false;
  }
  if (lua_getfield(L, -1, event) != LUA_TFUNCTION) {
    lua_pop(L, 3);
    return false;
  }
  lua_rotate(L, -3, 1);  // fn, self, callbacks
  lua_pop(L, with_self ? 1 : 2);
  return true;
}

int call_function(handle* h, const char* event, int nargs, int nresults) {
  lua_State* L = h->L;
  int base = lua_gettop(L) - nargs;  // the function's index
  lua_pushcfunction(L, traceback);
  lua_insert(L, base);
  int rc = lua_pcall(L, nargs, nresults, base);
  if (rc != LUA_OK) {
    std::fprintf(stderr, "tern.server: error in on%s: %s\n", event, lua_tostring(L, -1));
    lua_settop(L, base - 1);
  } else {
    lua_remove(L, base);
  }
  if (h->k != kind::plain) end_orphans();
  return rc == LUA_OK ? nresults : -1;
}

int call(handle* h, const char* event, int nargs, int nresults) {
  return call_function(h, event, nargs + 1, nresults);
}

namespace {

void push_client_info(lua_State* L, const client_info& c) {
  lua_createtable(L, 0, 12);
  auto set_int = [&](const char* k, lua_Integer v) {
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
  };
  set_int("server_port", c.server_port);
  set_int("server_fd", c.server_fd);
  set_int("socket_fd", c.socket_fd);
  set_int("reactor_id", c.reactor_id);
  lua_pushlstring(L, c.remote_ip.data(), c.remote_ip.size());
  lua_setfield(L, -2, "remote_ip");
  set_int("remote_port", c.remote_port);
  set_int("connect_time", c.connect_time);
  set_int("last_time", c.last_time);
  set_int("last_recv_time", c.last_recv_time);
  set_int("last_send_time", c.last_send_time);
  if (c.uid) set_int("uid", c.uid);
  set_int("recv_bytes", lua_Integer(c.recv_bytes));
  set_int("send_bytes", lua_Integer(c.send_bytes));
}

// Lower-case, without a leading "on": "onReceive", "Receive", "receive" -> "receive".
std::string event_key(std::string_view name) {
  if (name.size() > 2 && (name[0] == 'o' || name[0] == 'O') && (name[1] == 'n' || name[1] == 'N'))
    name.remove_prefix(2);
  std::string k(name);
  for (char& ch : k) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  return k;
}

void wire_callbacks(handle* h) {
  server& s = *h->s;
  s.on_start = [h](server&) { if (push_callback(h, "start")) call(h, "Start", 0); };
  s.on_shutdown = [h](server&) { if (push_callback(h, "shutdown")) call(h, "Shutdown", 0); };
  s.on_manager_start = [h](server&) { if (push_callback(h, "managerstart")) call(h, "ManagerStart", 0); };
  s.on_manager_stop = [h](server&) { if (push_callback(h, "managerstop")) call(h, "ManagerStop", 0); };
  auto worker_event = [h](const char* key, const char* name) {
    return [h, key, name](server&, int worker_id) {
      if (!push_callback(h, key)) return;
      lua_pushinteger(h->L, worker_id);
      call(h, name, 1);
    };
  };
  s.on_worker_start = worker_event("workerstart", "WorkerStart");
  s.on_worker_stop = worker_event("workerstop", "WorkerStop");
  s.on_worker_exit = worker_event("workerexit", "WorkerExit");
  s.on_worker_error = [h](server&, int worker_id, pid_t pid, int exit_code, int sig) {
    if (!push_callback(h, "workererror")) return;
    lua_pushinteger(h->L, worker_id);
    lua_pushinteger(h->L, pid);
    lua_pushinteger(h->L, exit_code);
    lua_pushinteger(h->L, sig);
    call(h, "WorkerError", 4);
  };
  auto fd_event = [h](const char* key, const char* name) {
    return [h, key, name](server&, int fd, int reactor_id) {
      if (!push_callback(h, key)) return;
      lua_pushinteger(h->L, fd);
      lua_pushinteger(h->L, reactor_id);
      call(h, name, 2);
    };
  };
  s.on_connect = fd_event("connect", "Connect");
  s.on_close = fd_event("close", "Close");
  // The Http and WebSocket servers read the connections themselves.
  if (h->k == kind::plain) {
    s.on_receive = [h](server&, int fd, int reactor_id, std::string_view data) {
      if (!push_callback(h, "receive")) return;
      lua_pushinteger(h->L, fd);
      lua_pushinteger(h->L, reactor_id);
      lua_pushlstring(h->L, data.data(), data.size());
      call(h, "Receive", 3);
    };
  }
  s.on_packet = [h](server&, std::string_view data, const client_info& from) {
    if (!push_callback(h, "packet")) return;
    lua_pushlstring(h->L, data.data(), data.size());
    push_client_info(h->L, from);
    call(h, "Packet", 2);
  };
  s.on_task = [h](server&, int task_id, int src_worker, std::string_view data) -> std::optional<std::string> {
    if (!push_callback(h, "task")) return std::nullopt;
    lua_pushinteger(h->L, task_id);
    lua_pushinteger(h->L, src_worker);
    lua_pushlstring(h->L, data.data(), data.size());
    if (call(h, "Task", 3, 1) != 1) return std::nullopt;
    std::optional<std::string> result;
    size_t n = 0;
    if (const char* p = lua_isstring(h->L, -1) ? lua_tolstring(h->L, -1, &n) : nullptr) result.emplace(p, n);
    lua_pop(h->L, 1);
    return result;
  };
  s.on_finish = [h](server&, int task_id, std::string_view data) {
    if (!push_callback(h, "finish")) return;
    lua_pushinteger(h->L, task_id);
    lua_pushlstring(h->L, data.data(), data.size());
    call(h, "Finish", 2);
  };
  s.on_pipe_message = [h](server&, int src_worker, std::string_view message) {
    if (!push_callback(h, "pipemessage")) return;
    lua_pushinteger(h->L, src_worker);
    lua_pushlstring(h->L, message.data(), message.size());
    call(h, "PipeMessage", 2);
  };
  s.on_buffer_full = [h](server&, int fd) {
    if (!push_callback(h, "bufferfull")) return;
    lua_pushinteger(h->L, fd);
    call(h, "BufferFull", 1);
  };
  s.on_buffer_empty = [h](server&, int fd) {
    if (!push_callback(h, "bufferempty")) return;
    lua_pushinteger(h->L, fd);
    call(h, "BufferEmpty", 1);
  };
}

// server.new / server.http / server.websocket (host, port [, mode [, sock_type]])
int new_server(lua_State* L, kind k) {
  std::string host(str(L, 1));
  int port = int(luaL_checkinteger(L, 2));
  int m = int(luaL_optinteger(L, 3, int(mode::process)));
  int t = int(luaL_optinteger(L, 4, int(sock_type::tcp)));
  luaL_argcheck(L, m == int(mode::process) || m == int(mode::base), 3, "PROCESS or BASE");
  luaL_argcheck(L, t >= 1 && t <= 4, 4, "TCP, UDP, TCP6 or UDP6");
  auto* h = static_cast<handle*>(lua_newuserdatauv(L, sizeof(handle), 2));
  h->s = nullptr;
  h->L = nullptr;
  h->self_ref = LUA_NOREF;
  h->k = k;
  luaL_setmetatable(L, kServerMeta);
  lua_newtable(L);
  lua_setiuservalue(L, -2, 1);  // callbacks by event
  lua_newtable(L);
  lua_setiuservalue(L, -2, 2);  // timer functions by timer id
  switch (k) {
    case kind::plain: h->s = new server(std::move(host), port, mode(m), sock_type(t)); break;
    case kind::http: h->s = new http_server(std::move(host), port, mode(m), sock_type(t)); break;
    case kind::websocket: h->s = new websocket_server(std::move(host), port, mode(m), sock_type(t)); break;
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  h->L = lua_tothread(L, -1);
  lua_pop(L, 1);
  lua_pushvalue(L, -1);
  h->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);  // the server lives as long as the script
  wire_callbacks(h);
  return 1;
}

int lnew(lua_State* L) { return new_server(L, kind::plain); }
int lnew_http(lua_State* L) { return new_server(L, kind::http); }
int lnew_websocket(lua_State* L) { return new_server(L, kind::websocket); }

int lgc(lua_State* L) {
  handle* h = check(L);
  switch (h->k) {  // no virtual destructor: delete the real type
    case kind::plain: delete h->s; break;
    case kind::http: delete static_cast<http_server*>(h->s); break;
    case kind::websocket: delete static_cast<websocket_server*>(h->s); break;
  }
  h->s = nullptr;
  return 0;
}

// s:set { key = value, ... }: raises with the reason for a bad key or value.
int lset(lua_State* L) {
  server& s = srv(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  setting_map values;
  lua_pushnil(L);
  while (lua_next(L, 2)) {
    if (lua_type(L, -2) != LUA_TSTRING) return luaL_error(L, "set: setting names are strings");
    std::string key = lua_tostring(L, -2);
    switch (lua_type(L, -1)) {
      case LUA_TBOOLEAN: values[key] = bool(lua_toboolean(L, -1)); break;
      case LUA_TNUMBER:
        if (lua_isinteger(L, -1))
          values[key] = int64_t(lua_tointeger(L, -1));
        else
          values[key] = double(lua_tonumber(L, -1));
        break;
      case LUA_TSTRING: values[key] = std::string(lua_tostring(L, -1)); break;
      default: return luaL_error(L, "set: setting '%s' has a %s value", key.c_str(), luaL_typename(L, -1));
    }
    lua_pop(L, 1);
  }
  if (!s.set(values)) return luaL_error(L, "set: %s", s.error().c_str());
  lua_pushboolean(L, 1);
  return 1;
}

int lon(lua_State* L) {
  handle* h = check(L);
  std::string key = event_key(str(L, 2));
  luaL_checktype(L, 3, LUA_TFUNCTION);
  static const char* const known[] = {"start", "shutdown", "managerstart", "managerstop", "workerstart",
                                      "workerstop", "workerexit", "workererror", "connect", "close",
                                      "packet", "task", "finish", "pipemessage", "bufferfull",
                                      "bufferempty"};
  bool ok = false;
  for (const char* k : known) ok = ok || key == k;
  // Receive is the plain server's; the Http server reads requests itself.
  ok = ok || (key == "receive" && h->k == kind::plain);
  ok = ok || (key == "request" && h->k != kind::plain);
  ok = ok || ((key == "open" || key == "message" || key == "handshake") && h->k == kind::websocket);
  if (!ok) return luaL_error(L, "on: unknown event '%s'", lua_tostring(L, 2));
  lua_getiuservalue(L, 1, 1);
  lua_pushvalue(L, 3);
  lua_setfield(L, -2, key.c_str());
  lua_pushboolean(L, 1);
  return 1;
}

int lstart(lua_State* L) {
  server& s = srv(L);
  handle* h = check(L);
  bool started;
  if (h->k == kind::plain) {
    started = s.start();
  } else {  // http_server::start hides server::start (not virtual): it installs the HTTP layer
    wire_http(h);
    started = static_cast<http_server&>(s).start();
  }
  if (!started) return luaL_error(L, "start: %s", s.error().c_str());
  lua_pushboolean(L, 1);
  return 1;
}

int result(lua_State* L, bool ok) {
  lua_pushboolean(L, ok);
  return 1;
}

int lsend(lua_State* L) { return result(L, srv(L).send(int(luaL_checkinteger(L, 2)), str(L, 3), int(luaL_optinteger(L, 4, -1)))); }
int lsendto(lua_State* L) {
  return result(L, srv(L).sendto(str(L, 2), int(luaL_checkinteger(L, 3)), str(L, 4), int(luaL_optinteger(L, 5, -1))));
}
int lsendfile(lua_State* L) {
  return result(L, srv(L).sendfile(int(luaL_checkinteger(L, 2)), std::string(str(L, 3)),
                                   luaL_optinteger(L, 4, 0), luaL_optinteger(L, 5, 0)));
}
int lclose(lua_State* L) { return result(L, srv(L).close(int(luaL_checkinteger(L, 2)), lua_toboolean(L, 3))); }
int lexists(lua_State* L) { return result(L, srv(L).exists(int(luaL_checkinteger(L, 2)))); }
int lpause(lua_State* L) { return result(L, srv(L).pause(int(luaL_checkinteger(L, 2)))); }
int lresume(lua_State* L) { return result(L, srv(L).resume(int(luaL_checkinteger(L, 2)))); }
int lbind(lua_State* L) {
  return result(L, srv(L).bind(int(luaL_checkinteger(L, 2)), uint32_t(luaL_checkinteger(L, 3))));
}
int lreload(lua_State* L) { return result(L, srv(L).reload(lua_toboolean(L, 2))); }
int lshutdown(lua_State* L) { return result(L, srv(L).shutdown()); }
int lstop(lua_State* L) {
  return result(L, srv(L).stop(int(luaL_optinteger(L, 2, -1)), lua_toboolean(L, 3)));
}
int lheartbeat(lua_State* L) { return result(L, srv(L).heartbeat(lua_isnone(L, 2) || lua_toboolean(L, 2))); }
int lfinish(lua_State* L) { return result(L, srv(L).finish(str(L, 2))); }
int lsend_message(lua_State* L) {
  return result(L, srv(L).send_message(str(L, 2), int(luaL_checkinteger(L, 3))));
}

int lget_client_info(lua_State* L) {
  auto info = srv(L).get_client_info(int(luaL_checkinteger(L, 2)));
  if (!info) return result(L, false);
  push_client_info(L, *info);
  return 1;
}

int lget_client_list(lua_State* L) {
  auto list = srv(L).get_client_list(int(luaL_optinteger(L, 2, 0)), int(luaL_optinteger(L, 3, 10)));
  if (list.empty()) return result(L, false);
  lua_createtable(L, int(list.size()), 0);
  for (size_t i = 0; i < list.size(); ++i) {
    lua_pushinteger(L, list[i]);
    lua_rawseti(L, -2, lua_Integer(i + 1));
  }
  return 1;
}

int lstats(lua_State* L) {
  server_stats st = srv(L).stats();
  lua_createtable(L, 0, 11);
  auto set = [&](const char* k, lua_Integer v) {
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
  };
  set("start_time", st.start_time);
  set("connection_num", lua_Integer(st.connection_num));
  set("accept_count", lua_Integer(st.accept_count));
  set("close_count", lua_Integer(st.close_count));
  set("worker_num", st.worker_num);
  set("task_worker_num", st.task_worker_num);
  set("idle_worker_num", st.idle_worker_num);
  set("request_count", lua_Integer(st.request_count));
  set("total_recv_bytes", lua_Integer(st.total_recv_bytes));
  set("total_send_bytes", lua_Integer(st.total_send_bytes));
  set("tasking_num", lua_Integer(st.tasking_num));
  return 1;
}

// s:task(data [, dst_worker [, function(s, task_id, data)]]) -> task_id or false
int ltask(lua_State* L) {
  server& s = srv(L);
  handle* h = check(L);
  std::function<void(server&, int, std::string_view)> done;
  if (lua_isfunction(L, 4)) {
    lua_pushvalue(L, 4);
    int ref = luaL_ref(L, LUA_REGISTRYINDEX);
    done = [h, ref](server&, int task_id, std::string_view data) {
      lua_rawgeti(h->L, LUA_REGISTRYINDEX, ref);
      luaL_unref(h->L, LUA_REGISTRYINDEX, ref);
      lua_rawgeti(h->L, LUA_REGISTRYINDEX, h->self_ref);
      lua_pushinteger(h->L, task_id);
      lua_pushlstring(h->L, data.data(), data.size());
      call(h, "Finish", 2);
    };
  }
  int id = s.task(str(L, 2), int(luaL_optinteger(L, 3, -1)), std::move(done));
  if (id < 0) return result(L, false);
  lua_pushinteger(L, id);
  return 1;
}

int ltaskwait(lua_State* L) {
  auto r = srv(L).taskwait(str(L, 2), luaL_optnumber(L, 3, 0.5), int(luaL_optinteger(L, 4, -1)));
  if (!r) return result(L, false);
  lua_pushlstring(L, r->data(), r->size());
  return 1;
}

int ltask_wait_multi(lua_State* L) {
  luaL_checktype(L, 2, LUA_TTABLE);
  std::vector<std::string> tasks;
  for (lua_Integer i = 1, n = luaL_len(L, 2); i <= n; ++i) {
    lua_geti(L, 2, i);
    size_t sz = 0;
    const char* p = luaL_checklstring(L, -1, &sz);
    tasks.emplace_back(p, sz);
    lua_pop(L, 1);
  }
  auto results = srv(L).task_wait_multi(tasks, luaL_optnumber(L, 3, 0.5));
  lua_createtable(L, int(results.size()), 0);
  for (size_t i = 0; i < results.size(); ++i) {
    if (!results[i]) continue;  // a task that timed out has no entry, as in swoole
    lua_pushlstring(L, results[i]->data(), results[i]->size());
    lua_rawseti(L, -2, lua_Integer(i + 1));
  }
  return 1;
}

// s:addProcess(function(s) ... end) -> its index
int ladd_process(lua_State* L) {
  server& s = srv(L);
  handle* h = check(L);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_pushvalue(L, 2);
  int ref = luaL_ref(L, LUA_REGISTRYINDEX);
  int id = s.add_process([h, ref](server&) {
    lua_rawgeti(h->L, LUA_REGISTRYINDEX, ref);
    lua_rawgeti(h->L, LUA_REGISTRYINDEX, h->self_ref);
    call(h, "Process", 0);
  });
  lua_pushinteger(L, id);
  return 1;
}

// s:addListener(host, port [, sock_type]): the port's own settings come later.
int ladd_listener(lua_State* L) {
  server& s = srv(L);
  s.add_listener(std::string(str(L, 2)), int(luaL_checkinteger(L, 3)),
                 sock_type(luaL_optinteger(L, 4, int(sock_type::tcp))));
  return result(L, true);
}

// Timers: the functions live in the server's uservalue 2, keyed by timer id,
// until the timer is cleared (tick) or has fired (after).
void push_timer_fn(lua_State* L, int self_idx, int timer_id) {
  lua_getiuservalue(L, self_idx, 2);
  lua_rawgeti(L, -1, timer_id);
  lua_remove(L, -2);
}
void set_timer_fn(lua_State* L, int self_idx, int timer_id, int fn_idx) {
  lua_getiuservalue(L, self_idx, 2);
  if (fn_idx)
    lua_pushvalue(L, fn_idx);
  else
    lua_pushnil(L);
  lua_rawseti(L, -2, timer_id);
  lua_pop(L, 1);
}

// s:tick(ms, function(s, timer_id) end) / s:after(ms, function(s, timer_id) end) -> timer id or false
int add_timer(lua_State* L, bool repeat) {
  server& s = srv(L);
  handle* h = check(L);
  lua_Integer ms = luaL_checkinteger(L, 2);
  luaL_argcheck(L, ms > 0 && ms <= 86400000LL * 365, 2, "milliseconds > 0");
  luaL_checktype(L, 3, LUA_TFUNCTION);
  auto fire = [h, repeat](server&, int timer_id) {
    lua_State* S = h->L;
    lua_rawgeti(S, LUA_REGISTRYINDEX, h->self_ref);
    int self = lua_gettop(S);
    push_timer_fn(S, self, timer_id);
    if (!repeat) set_timer_fn(S, self, timer_id, 0);  // before the call: it may add timers
    if (!lua_isfunction(S, -1)) {
      lua_settop(S, self - 1);
      return;
    }
    lua_pushvalue(S, self);
    lua_remove(S, self);
    lua_pushinteger(S, timer_id);
    call(h, "Timer", 1);
  };
  int id = repeat ? s.tick(int(ms), fire) : s.after(int(ms), fire);
  if (id <= 0) return result(L, false);
  set_timer_fn(L, 1, id, 3);
  lua_pushinteger(L, id);
  return 1;
}
int ltick(lua_State* L) { return add_timer(L, true); }
int lafter(lua_State* L) { return add_timer(L, false); }
int lclear_timer(lua_State* L) {
  server& s = srv(L);
  int id = int(luaL_checkinteger(L, 2));
  bool ok = s.clear_timer(id);
  if (ok) set_timer_fn(L, 1, id, 0);
  return result(L, ok);
}

// Properties as in swoole: s.worker_id, s.worker_pid, s.taskworker, s.master_pid, s.manager_pid, s.setting.
int lindex(lua_State* L) {
  handle* h = check(L);
  const char* key = luaL_checkstring(L, 2);
  if (h->s) {
    server& s = *h->s;
    std::string_view k(key);
    if (k == "worker_id") return lua_pushinteger(L, s.worker_id()), 1;
    if (k == "worker_pid") return lua_pushinteger(L, s.worker_pid()), 1;
    if (k == "master_pid") return lua_pushinteger(L, s.master_pid()), 1;
    if (k == "manager_pid") return lua_pushinteger(L, s.manager_pid()), 1;
    if (k == "taskworker") return lua_pushboolean(L, s.is_task_worker()), 1;
  }
  luaL_getmetatable(L, kServerMeta);
  lua_getfield(L, -1, "methods");
  lua_getfield(L, -1, key);
  return 1;
}

}  // namespace

extern "C" int luaopen_tern_server(lua_State* L) {
  static const luaL_Reg methods[] = {
      {"set", lset},
      {"on", lon},
      {"start", lstart},
      {"send", lsend},
      {"sendto", lsendto},
      {"sendfile", lsendfile},
      {"close", lclose},
      {"exists", lexists},
      {"pause", lpause},
      {"resume", lresume},
      {"getClientInfo", lget_client_info},
      {"getClientList", lget_client_list},
      {"bind", lbind},
      {"stats", lstats},
      {"reload", lreload},
      {"shutdown", lshutdown},
      {"stop", lstop},
      {"heartbeat", lheartbeat},
      {"addListener", ladd_listener},
      {"addProcess", ladd_process},
      {"task", ltask},
      {"taskwait", ltaskwait},
      {"taskWaitMulti", ltask_wait_multi},
      {"finish", lfinish},
      {"sendMessage", lsend_message},
      {"tick", ltick},
      {"after", lafter},
      {"clearTimer", lclear_timer},
      {nullptr, nullptr},
  };
  luaL_newmetatable(L, kServerMeta);
  lua_pushcfunction(L, lgc);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, lindex);
  lua_setfield(L, -2, "__index");
  luaL_newlib(L, methods);
  add_http_methods(L);
  lua_setfield(L, -2, "methods");
  lua_pop(L, 1);

  lua_createtable(L, 0, 16);
  lua_pushcfunction(L, lnew);
  lua_setfield(L, -2, "new");
  lua_pushcfunction(L, lnew_http);
  lua_setfield(L, -2, "http");
  lua_pushcfunction(L, lnew_websocket);
  lua_setfield(L, -2, "websocket");
  const std::pair<const char*, int> constants[] = {
      {"PROCESS", int(mode::process)}, {"BASE", int(mode::base)},     {"TCP", int(sock_type::tcp)},
      {"UDP", int(sock_type::udp)},    {"TCP6", int(sock_type::tcp6)}, {"UDP6", int(sock_type::udp6)}};
  for (auto [name, value] : constants) {
    lua_pushinteger(L, value);
    lua_setfield(L, -2, name);
  }
  open_http(L);
  return 1;
}

}  // namespace tern::server::lua
