// An etcd v3 client on libcurl and etcd's JSON gateway (see etcd_codec.hpp).
//
// Every request is asynchronous: submit() queues it and returns its id at
// once; the client's own thread runs all transfers together (a curl multi
// handle) and hands each answer to the `deliver` callback with that id. A
// watch is a streaming POST /v3/watch: each JSON line that arrives is one
// delivery with `more = true`, and the end of the stream (etcd gone, cancel by
// etcd) is a last delivery with ok = false and more = false.
//
// Endpoints: a request goes to the endpoint that answered last; a transport
// failure (refused, reset, timeout) or an HTTP 5xx moves it to the next one,
// until each endpoint was tried once, then it fails with the last error.
//
// Threading: submit(), cancel() and the destructor may be called from any
// thread. `deliver` runs on the client's thread, one call at a time, never
// after the destructor has returned (it joins the thread).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cluster/etcd_codec.hpp"

namespace tern::cluster::etcd {

struct request {
  etcd::kind kind = etcd::kind::range;
  std::string body;  // from the *_body functions of etcd_codec.hpp
};

class client {
 public:
  // (id, answer, more): more is true for a watch line that is not the last.
  using deliver_fn = std::function<void(uint64_t id, result&& r, bool more)>;

  // endpoints: base URLs ("http://127.0.0.1:2379"); timeout_ms bounds each
  // unary request per endpoint (connecting included); a watch has no total
  // limit, only a connect timeout.
  client(std::vector<std::string> endpoints, int timeout_ms, deliver_fn deliver);
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  // Queues a request; its answer is delivered later with the returned id (> 0).
  uint64_t submit(request r);
  // Stops a request (mostly: a watch). Nothing more is delivered for it.
  void cancel(uint64_t id);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace tern::cluster::etcd
