#include "cluster/etcd_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

namespace tern::cluster::etcd {

namespace {

std::once_flag curl_once;

// One request in flight: its easy handle and what has arrived so far.
struct transfer {
  uint64_t id = 0;
  request req;
  size_t endpoint = 0;  // index of the endpoint being tried
  size_t tries = 0;     // endpoints tried so far, this one included
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  std::string data;       // unary: the body so far; watch: the unfinished line
  bool streamed = false;  // watch: a line arrived, so no failover any more
  bool ended = false;     // watch: the last delivery was made from a line
  char errbuf[CURL_ERROR_SIZE] = {};
};

}  // namespace

struct client::impl {
  std::vector<std::string> endpoints;
  int timeout_ms = 3000;
  deliver_fn deliver;
  CURLM* multi = nullptr;

  std::mutex mu;
  std::vector<std::pair<uint64_t, request>> submitted;  // guarded by mu
  std::vector<uint64_t> canceled;                       // guarded by mu
  uint64_t next_id = 1;                                 // guarded by mu
  bool stopping = false;                                // guarded by mu

  // The client's thread only.
  size_t current = 0;  // the endpoint that answered last
  std::unordered_map<uint64_t, std::unique_ptr<transfer>> live;
  std::thread thread;

  void run();
  void start(transfer& t);
  void finished(transfer& t, CURLcode code);
  void drop(uint64_t id);
  static size_t on_data(char* ptr, size_t size, size_t n, void* ud);
  bool on_watch_data(transfer& t);
};

client::client(std::vector<std::string> endpoints, int timeout_ms, deliver_fn deliver)
    : impl_(std::make_unique<impl>()) {
  std::call_once(curl_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  impl_->endpoints = std::move(endpoints);
  impl_->timeout_ms = timeout_ms > 0 ? timeout_ms : 3000;
  impl_->deliver = std::move(deliver);
  impl_->multi = curl_multi_init();
  impl_->thread = std::thread([p = impl_.get()] { p->run(); });
}

client::~client() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  curl_multi_wakeup(impl_->multi);
  impl_->thread.join();
  curl_multi_cleanup(impl_->multi);
}

uint64_t client::submit(request r) {
  uint64_t id;
  {
    std::lock_guard lock(impl_->mu);
    id = impl_->next_id++;
    impl_->submitted.emplace_back(id, std::move(r));
  }
  curl_multi_wakeup(impl_->multi);
  return id;
}

void client::cancel(uint64_t id) {
  {
    std::lock_guard lock(impl_->mu);
    impl_->canceled.push_back(id);
  }
  curl_multi_wakeup(impl_->multi);
}

size_t client::impl::on_data(char* ptr, size_t size, size_t n, void* ud) {
  auto* t = static_cast<transfer*>(ud);
  t->data.append(ptr, size * n);
  return size * n;
}

void client::impl::start(transfer& t) {
  if (!t.easy) t.easy = curl_easy_init();
  CURL* e = t.easy;
  curl_easy_reset(e);
  std::string url = endpoints[t.endpoint] + path(t.req.kind);
  curl_easy_setopt(e, CURLOPT_URL, url.c_str());  // libcurl copies strings
  curl_easy_setopt(e, CURLOPT_POST, 1L);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, t.req.body.data());  // not copied: t outlives e's use
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, long(t.req.body.size()));
  if (!t.headers) t.headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, t.headers);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);  // we are not the main thread
  curl_easy_setopt(e, CURLOPT_NOPROXY, "*");  // etcd is reached directly, whatever http_proxy says
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, long(timeout_ms));
  if (t.req.kind != kind::watch) curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, long(timeout_ms));
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &impl::on_data);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t.errbuf);
  curl_easy_setopt(e, CURLOPT_PRIVATE, &t);
  t.data.clear();
  t.errbuf[0] = '\0';
  ++t.tries;
  curl_multi_add_handle(multi, e);
}

// Delivers the complete lines of a watch stream. Returns false when the
// stream must stop (etcd canceled the watch, or a line made no sense).
bool client::impl::on_watch_data(transfer& t) {
  size_t begin = 0;
  for (size_t nl; (nl = t.data.find('\n', begin)) != std::string::npos; begin = nl + 1) {
    std::string_view line(t.data.data() + begin, nl - begin);
    if (line.find_first_not_of(" \r\t") == std::string_view::npos) continue;
    t.streamed = true;
    result r = parse_watch_line(line);
    bool last = !r.ok;
    deliver(t.id, std::move(r), !last);
    if (last) {
      t.ended = true;
      return false;
    }
  }
  t.data.erase(0, begin);
  return true;
}

void client::impl::finished(transfer& t, CURLcode code) {
  long status = 0;
  curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status);
  curl_multi_remove_handle(multi, t.easy);
  if (t.ended) return drop(t.id);
  bool transport_failed = code != CURLE_OK || status >= 500;
  if (transport_failed && !t.streamed && t.tries < endpoints.size()) {
    t.endpoint = (t.endpoint + 1) % endpoints.size();
    start(t);  // the next endpoint
    return;
  }
  if (!transport_failed) current = t.endpoint;
  const std::string& where = endpoints[t.endpoint];
  result r;
  if (code != CURLE_OK) {
    r.error = where + ": " + (t.errbuf[0] ? t.errbuf : curl_easy_strerror(code));
    if (t.tries > 1) r.error = std::to_string(t.tries) + " endpoints failed, the last " + r.error;
  } else if (t.req.kind == kind::watch) {
    // The stream ended: what is left may be an error object without a newline.
    if (!t.data.empty() && t.data.find_first_not_of(" \r\n\t") != std::string::npos) {
      r = parse_watch_line(t.data);
      if (r.ok) r = result{};
    }
    if (r.error.empty())
      r.error = where + ": watch stream ended (HTTP " + std::to_string(status) + ")";
  } else {
    r = parse_response(t.req.kind, status, t.data);
    if (!r.ok) r.error = where + ": " + r.error;
  }
  uint64_t id = t.id;
  drop(id);  // before deliver: t dies here
  deliver(id, std::move(r), false);
}

void client::impl::drop(uint64_t id) {
  auto it = live.find(id);
  if (it == live.end()) return;
  transfer& t = *it->second;
  if (t.easy) {
    curl_multi_remove_handle(multi, t.easy);  // harmless when not added
    curl_easy_cleanup(t.easy);
  }
  curl_slist_free_all(t.headers);
  live.erase(it);
}

void client::impl::run() {
  for (;;) {
    std::vector<std::pair<uint64_t, request>> fresh;
    std::vector<uint64_t> gone;
    {
      std::lock_guard lock(mu);
      if (stopping) break;
      fresh.swap(submitted);
      gone.swap(canceled);
    }
    for (auto& [id, req] : fresh) {
      if (endpoints.empty()) {
        result r;
        r.error = "no etcd endpoint configured";
        deliver(id, std::move(r), false);
        continue;
      }
      auto t = std::make_unique<transfer>();
      t->id = id;
      t->req = std::move(req);
      t->endpoint = current;
      transfer& ref = *t;
      live.emplace(id, std::move(t));
      start(ref);
    }
    for (uint64_t id : gone) drop(id);

    int running = 0;
    curl_multi_perform(multi, &running);
    // Watch lines are delivered as they arrive, between transfers' progress.
    std::vector<uint64_t> stop_streams;
    for (auto& [id, t] : live)
      if (t->req.kind == kind::watch && !t->ended && !t->data.empty() && !on_watch_data(*t))
        stop_streams.push_back(id);
    for (uint64_t id : stop_streams) drop(id);
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
      if (m->msg != CURLMSG_DONE) continue;
      transfer* t = nullptr;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
      if (t) {
        if (t->req.kind == kind::watch && !t->ended) on_watch_data(*t);
        finished(*t, m->data.result);
      }
    }
    curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
  }
  std::vector<uint64_t> all;
  for (auto& [id, t] : live) all.push_back(id);
  for (uint64_t id : all) drop(id);
}

}  // namespace tern::cluster::etcd
