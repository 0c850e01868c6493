// tern.etcdcore: the etcd client (src/cluster/etcd_client) for Lua services.
// Registered in snlua's package.preload; lualib/tern/etcd.lua wraps it into
// blocking calls for coroutines. tern-specific (skynet has no etcd client).
//
//   local core = require "tern.etcdcore"
//   core.endpoints("etcd://h1:p1,h2:p2") -> { "http://h1:p1", ... }
//   core.prefix_end(prefix) -> the range_end of every key under prefix
//   core.client(endpoints, timeout_ms, ptype) -> c
//       starts the client's thread; when answers are ready it sends this
//       service one empty message of type ptype (again only after poll()
//       found the queue empty), so answers never block a worker
//   c:grant(ttl) c:revoke(lease) c:keepalive(lease)
//   c:put(key, value [, lease]) c:range(key [, range_end])
//   c:delete(key [, range_end]) c:watch(key, range_end, start_revision)
//                                        -> id (answers carry it)
//   c:cancel(id)                         nothing more comes for id
//   c:poll() -> { answer, ... }          answers ready so far, oldest first:
//       { id =, more = (watch line, more to come), ok =, error =,
//         revision =, lease =, ttl =, deleted =, created =,
//         kvs = { { key =, value =, lease =, mod_revision = }, ... },
//         events = { { type = "PUT"|"DELETE", key =, value =, lease = }, ... } }
//   c:close()                            stops the thread (also on __gc)
//
// Threading: c's methods run on the service's worker and only queue work
// (a mutex, a wake-up of the client's thread); the client's thread does the
// I/O and queues answers; the message tells the service to poll.
#pragma once

#include <lua.hpp>

extern "C" int luaopen_tern_etcdcore(lua_State* L);
