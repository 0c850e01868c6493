// tern.etcdcore (see lua_etcd.hpp).
#include "lua/lua_etcd.hpp"

#include <deque>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "cluster/etcd_client.hpp"
#include "core/context.hpp"
#include "core/node_impl.hpp"

namespace tern::lua {

namespace {

namespace etcd = tern::cluster::etcd;

constexpr const char* kClientMeta = "tern.etcdcore.client";

struct answer {
  uint64_t id;
  etcd::result r;
  bool more;
};

// Shared by the client's thread (push) and the service (poll).
struct inbox {
  std::mutex mu;
  std::deque<answer> ready;  // guarded by mu
  node_impl* node = nullptr;
  uint32_t handle = 0;
  int ptype = 0;

  void push(uint64_t id, etcd::result&& r, bool more) {
    bool was_empty;
    {
      std::lock_guard lock(mu);
      was_empty = ready.empty();
      ready.push_back(answer{id, std::move(r), more});
    }
    // One wake-up per batch: the service drains everything on poll().
    if (was_empty) node->send(nullptr, 0, handle, ptype, 0, nullptr, 0);
  }
};

// The userdata. Destroyed by close() or __gc: the client joins its thread
// first, so nothing pushes into the inbox afterwards.
struct binding {
  std::shared_ptr<inbox> box;
  std::unique_ptr<etcd::client> client;
};

binding& check(lua_State* L) {
  auto* b = static_cast<binding*>(luaL_checkudata(L, 1, kClientMeta));
  if (!b->client) luaL_error(L, "etcd client is closed");
  return *b;
}

std::string_view opt_view(lua_State* L, int index) {
  size_t n = 0;
  const char* s = luaL_optlstring(L, index, "", &n);
  return {s, n};
}

std::string_view check_view(lua_State* L, int index) {
  size_t n = 0;
  const char* s = luaL_checklstring(L, index, &n);
  return {s, n};
}

// Queues the request built by make_body(). Lua arguments are all checked
// before (a Lua error longjmps over C++ destructors); a C++ exception
// (bad_alloc) becomes a Lua error once the try block has closed.
template <class F>
int submit(lua_State* L, binding& b, etcd::kind k, F make_body) {
  uint64_t id = 0;
  bool failed = false;
  try {
    id = b.client->submit(etcd::request{k, make_body()});
  } catch (...) {
    failed = true;
  }
  if (failed) return luaL_error(L, "etcd: out of memory");
  lua_pushinteger(L, lua_Integer(id));
  return 1;
}

int lgrant(lua_State* L) {
  binding& b = check(L);
  lua_Integer ttl = luaL_checkinteger(L, 2);
  return submit(L, b, etcd::kind::grant, [&] { return etcd::grant_body(ttl); });
}

int lrevoke(lua_State* L) {
  binding& b = check(L);
  lua_Integer lease = luaL_checkinteger(L, 2);
  return submit(L, b, etcd::kind::revoke, [&] { return etcd::revoke_body(lease); });
}

int lkeepalive(lua_State* L) {
  binding& b = check(L);
  lua_Integer lease = luaL_checkinteger(L, 2);
  return submit(L, b, etcd::kind::keepalive, [&] { return etcd::keepalive_body(lease); });
}

int lput(lua_State* L) {
  binding& b = check(L);
  std::string_view key = check_view(L, 2), value = check_view(L, 3);
  lua_Integer lease = luaL_optinteger(L, 4, 0);
  return submit(L, b, etcd::kind::put, [&] { return etcd::put_body(key, value, lease); });
}

int lrange(lua_State* L) {
  binding& b = check(L);
  std::string_view key = check_view(L, 2), end = opt_view(L, 3);
  return submit(L, b, etcd::kind::range, [&] { return etcd::range_body(key, end); });
}

int ldelete(lua_State* L) {
  binding& b = check(L);
  std::string_view key = check_view(L, 2), end = opt_view(L, 3);
  return submit(L, b, etcd::kind::del, [&] { return etcd::delete_body(key, end); });
}

int lwatch(lua_State* L) {
  binding& b = check(L);
  std::string_view key = check_view(L, 2), end = opt_view(L, 3);
  lua_Integer start = luaL_optinteger(L, 4, 0);
  return submit(L, b, etcd::kind::watch, [&] { return etcd::watch_body(key, end, start); });
}

int lcancel(lua_State* L) {
  binding& b = check(L);
  b.client->cancel(uint64_t(luaL_checkinteger(L, 2)));
  return 0;
}

void set_int(lua_State* L, const char* field, int64_t v) {
  lua_pushinteger(L, lua_Integer(v));
  lua_setfield(L, -2, field);
}

void set_str(lua_State* L, const char* field, const std::string& s) {
  lua_pushlstring(L, s.data(), s.size());
  lua_setfield(L, -2, field);
}

void push_kv_fields(lua_State* L, const etcd::kv& kv) {
  set_str(L, "key", kv.key);
  set_str(L, "value", kv.value);
  set_int(L, "lease", kv.lease);
  set_int(L, "mod_revision", kv.mod_revision);
  set_int(L, "create_revision", kv.create_revision);
}

void push_answer(lua_State* L, const answer& a) {
  const etcd::result& r = a.r;
  lua_createtable(L, 0, 12);
  set_int(L, "id", int64_t(a.id));
  lua_pushboolean(L, a.more);
  lua_setfield(L, -2, "more");
  lua_pushboolean(L, r.ok);
  lua_setfield(L, -2, "ok");
  if (!r.ok) set_str(L, "error", r.error);
  set_int(L, "revision", r.revision);
  set_int(L, "lease", r.lease);
  set_int(L, "ttl", r.ttl);
  set_int(L, "deleted", r.deleted);
  lua_pushboolean(L, r.created);
  lua_setfield(L, -2, "created");
  lua_createtable(L, int(r.kvs.size()), 0);
  for (size_t i = 0; i < r.kvs.size(); ++i) {
    lua_createtable(L, 0, 5);
    push_kv_fields(L, r.kvs[i]);
    lua_rawseti(L, -2, lua_Integer(i + 1));
  }
  lua_setfield(L, -2, "kvs");
  lua_createtable(L, int(r.events.size()), 0);
  for (size_t i = 0; i < r.events.size(); ++i) {
    lua_createtable(L, 0, 6);
    lua_pushstring(L, r.events[i].put ? "PUT" : "DELETE");
    lua_setfield(L, -2, "type");
    push_kv_fields(L, r.events[i].kv);
    lua_rawseti(L, -2, lua_Integer(i + 1));
  }
  lua_setfield(L, -2, "events");
}

int lpoll(lua_State* L) {
  binding& b = check(L);
  // The answers move into a userdata (its __gc destroys them) before any Lua
  // table is built: an out-of-memory error there longjmps, and must not leak.
  auto* taken =
      static_cast<std::deque<answer>*>(lua_newuserdatauv(L, sizeof(std::deque<answer>), 0));
  new (taken) std::deque<answer>();
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, [](lua_State* S) {
    static_cast<std::deque<answer>*>(lua_touserdata(S, 1))->~deque();
    return 0;
  });
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  {
    std::lock_guard lock(b.box->mu);
    taken->swap(b.box->ready);
  }
  lua_createtable(L, int(taken->size()), 0);
  for (size_t i = 0; i < taken->size(); ++i) {
    push_answer(L, (*taken)[i]);
    lua_rawseti(L, -2, lua_Integer(i + 1));
  }
  return 1;
}

int lclose(lua_State* L) {
  auto* b = static_cast<binding*>(luaL_checkudata(L, 1, kClientMeta));
  b->client.reset();  // joins the client's thread
  return 0;
}

int lgc(lua_State* L) {
  auto* b = static_cast<binding*>(luaL_checkudata(L, 1, kClientMeta));
  b->~binding();
  return 0;
}

int lclient(lua_State* L) {
  std::string_view spec = check_view(L, 1);
  lua_Integer timeout_ms = luaL_optinteger(L, 2, 3000);
  lua_Integer ptype = luaL_checkinteger(L, 3);
  luaL_argcheck(L, ptype > 0 && ptype < 256, 3, "ptype out of range");
  auto* ctx = static_cast<tern_context*>(lua_touserdata(L, lua_upvalueindex(1)));
  auto* b = static_cast<binding*>(lua_newuserdatauv(L, sizeof(binding), 0));
  new (b) binding();
  luaL_setmetatable(L, kClientMeta);
  bool failed = false;
  try {
    b->box = std::make_shared<inbox>();
    b->box->node = ctx->node;
    b->box->handle = ctx->handle;
    b->box->ptype = int(ptype);
    b->client =
        std::make_unique<etcd::client>(etcd::parse_endpoints(spec), int(timeout_ms),
                                       [box = b->box](uint64_t id, etcd::result&& r, bool more) {
                                         box->push(id, std::move(r), more);
                                       });
  } catch (...) {
    failed = true;
  }
  if (failed) return luaL_error(L, "etcd: cannot start the client");
  return 1;
}

int lendpoints(lua_State* L) {
  std::string_view spec = check_view(L, 1);
  lua_newtable(L);
  std::vector<std::string> list = etcd::parse_endpoints(spec);
  // lua_pushlstring may raise only on out-of-memory; the list is small.
  for (size_t i = 0; i < list.size(); ++i) {
    lua_pushlstring(L, list[i].data(), list[i].size());
    lua_rawseti(L, -2, lua_Integer(i + 1));
  }
  return 1;
}

int lprefix_end(lua_State* L) {
  std::string_view prefix = check_view(L, 1);
  luaL_Buffer buf;
  luaL_buffinit(L, &buf);
  {
    std::string end = etcd::prefix_end(prefix);  // short: no allocation failure to fear
    luaL_addlstring(&buf, end.data(), end.size());
  }
  luaL_pushresult(&buf);
  return 1;
}

}  // namespace

}  // namespace tern::lua

extern "C" int luaopen_tern_etcdcore(lua_State* L) {
  using namespace tern::lua;
  static const luaL_Reg methods[] = {
      {"grant", lgrant}, {"revoke", lrevoke}, {"keepalive", lkeepalive}, {"put", lput},
      {"range", lrange}, {"delete", ldelete}, {"watch", lwatch},         {"cancel", lcancel},
      {"poll", lpoll},   {"close", lclose},   {nullptr, nullptr},
  };
  if (luaL_newmetatable(L, kClientMeta)) {
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, lgc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);

  lua_createtable(L, 0, 3);
  lua_getfield(L, LUA_REGISTRYINDEX, "skynet_context");
  if (!lua_touserdata(L, -1))
    return luaL_error(L, "tern.etcdcore: init the service's context first");
  lua_pushcclosure(L, lclient, 1);
  lua_setfield(L, -2, "client");
  lua_pushcfunction(L, lendpoints);
  lua_setfield(L, -2, "endpoints");
  lua_pushcfunction(L, lprefix_end);
  lua_setfield(L, -2, "prefix_end");
  return 1;
}
