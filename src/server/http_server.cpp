// tern::server::http_server: swoole's Http\Server on tern::server::server.
// docs/http.md ("HTTP and WebSocket on the Server") is the overview.
//
// The Server's connection callbacks are taken over in start(): the master
// (PROCESS) or the worker's reactor (BASE) only moves bytes; each worker
// keeps an http_conn per connection it serves, keyed by fd, with its own
// request_parser. Bytes go to the parser; complete requests queue on the
// connection and run one at a time (pump): the next starts when the response
// before it has ended, so responses leave in request order whatever the
// handler holds. A dispatch mode that would spread one connection over
// several workers (1, 3, 7) becomes 2 (fd modulo).
//
// Timeouts: one sweep timer per worker (a tick of a tenth of the shorter
// timeout, 50 ms .. 1 s) closes connections whose request head has not
// completed within http_header_timeout (slowloris) or that stayed idle
// between requests for http_idle_timeout. A connection whose request is in
// the handler's hands (queued, or its response not ended) is not timed.
#include <fmt/format.h>
#include <sys/stat.h>

#include <climits>
#include <cstdlib>
#include <ctime>

#include "http/response.hpp"
#include "server/http_body.hpp"
#include "server/http_impl.hpp"

namespace tern::server {

namespace {

char lower_char(char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Whether an Accept-Encoding value accepts gzip (a q=0 refuses it).
bool accepts_gzip(std::string_view v) {
  while (!v.empty()) {
    size_t comma = v.find(',');
    std::string_view item = trim(v.substr(0, comma));
    size_t semi = item.find(';');
    if (http::iequals(trim(item.substr(0, semi)), "gzip")) {
      if (semi == std::string_view::npos) return true;
      std::string_view q = trim(item.substr(semi + 1));
      if (q.size() >= 2 && (q[0] == 'q' || q[0] == 'Q') && q[1] == '=')
        return std::strtod(std::string(q.substr(2)).c_str(), nullptr) > 0;
      return true;
    }
    if (comma == std::string_view::npos) break;
    v.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

// --- http_request ------------------------------------------------------------------

std::string_view http_request::method() const {
  auto it = server.find("request_method");
  return it == server.end() ? std::string_view() : std::string_view(it->second);
}

std::string_view http_request::path() const {
  auto it = server.find("request_uri");
  return it == server.end() ? std::string_view() : std::string_view(it->second);
}

// --- http_server -------------------------------------------------------------------

http_server::http_server(std::string host, int port, mode m, sock_type type)
    : server(std::move(host), port, m, type), http_(std::make_unique<http_impl>()) {
  http_->self = this;
  http_->d = &internals();
}

http_server::~http_server() = default;

bool http_server::start() {
  server::impl& d = internals();
  if (d.started) return d.fail("start() was called already");
  // Every TCP port speaks HTTP: the parser frames requests, so no Server framing.
  for (const listener& l : d.listeners) {
    struct settings s = d.cfg;
    std::string err;
    if (!l.overrides.empty() && !apply(s, l.overrides, &err)) return d.fail(err);
    if (s.open_length_check || s.open_eof_check || s.open_eof_split)
      return d.fail(fmt::format("http_server: port {} has open_length_check / open_eof_check set; an HTTP port "
                                "takes no packet framing",
                                l.port));
  }
  // One connection's requests must reach one worker (its parser is there):
  // prepare() turns dispatch modes 1, 3, 7 into 2, with a log line.
  d.connection_affine = http_->ws ? "websocket_server" : "http_server";
  http_impl& h = *http_;
  h.limits.max_header_bytes = d.cfg.http_max_header_size;
  h.limits.max_header_count = d.cfg.http_max_header_count;
  h.limits.max_body_bytes = d.cfg.package_max_length;
  h.limits.max_target_bytes = std::min<size_t>(8 * 1024, d.cfg.http_max_header_size);

  h.user_connect = on_connect;
  h.user_close = on_close;
  h.user_worker_start = on_worker_start;
  if (on_receive) d.log(log_level::warning, "http_server: on_receive is replaced by the HTTP layer (use on_request)");
  auto saved_receive = on_receive;
  on_connect = [&h](server& s, int fd, int rid) {
    if (h.user_connect) h.user_connect(s, fd, rid);
  };
  on_receive = [&h](server&, int fd, int, std::string_view data) { h.received(fd, data); };
  on_close = [&h](server& s, int fd, int rid) {
    if (h.user_close) {
      try {
        h.user_close(s, fd, rid);
      } catch (...) {
        h.closed(fd);
        throw;  // logged by the Server
      }
    }
    h.closed(fd);
  };
  on_worker_start = [&h](server& s, int id) {
    if (!s.is_task_worker()) h.worker_started();
    if (h.user_worker_start) h.user_worker_start(s, id);
  };
  d.on_peer = [&h](int fd, const peer_info& p) { h.connected(fd, &p); };

  bool ok = server::start();

  on_connect = h.user_connect;
  on_close = h.user_close;
  on_worker_start = h.user_worker_start;
  on_receive = saved_receive;
  d.on_peer = nullptr;
  d.connection_affine = nullptr;
  return ok;
}

// --- the worker's side ---------------------------------------------------------------

void http_server::http_impl::worker_started() {
  conns.clear();
  doc_root.clear();
  const struct settings& s = cfg();
  if (s.enable_static_handler && !s.document_root.empty()) {
    char real[PATH_MAX];
    if (realpath(s.document_root.c_str(), real))
      doc_root = real;
    else
      log(log_level::warning, fmt::format("document_root {}: {}", s.document_root, std::strerror(errno)));
  }
  double shortest = 0;
  for (double t : {s.http_header_timeout, s.http_idle_timeout})
    if (t > 0 && (shortest == 0 || t < shortest)) shortest = t;
  if (shortest > 0) {
    int every = int(std::clamp(shortest * 100.0, 50.0, 1000.0));  // a tenth of it, in ms
    self->tick(every, [this](server&, int) { sweep(); });
  }
}

std::shared_ptr<http_conn> http_server::http_impl::connected(int fd, const peer_info* p) {
  auto c = std::make_shared<http_conn>(limits);
  c->fd = fd;
  if (p) {
    c->peer = *p;
    c->remote_port = std::to_string(p->port);
    c->server_port = std::to_string(p->server_port);
  }
  c->last_active = steady_ms();
  http_conn* raw = c.get();
  // The parser's callbacks only queue: requests run from pump(), outside feed().
  c->parser.on_headers([this, raw](const http::request& r) {
    raw->headers_seen = true;
    // 100 Continue at once, unless responses are still owed (they go first;
    // the client then sends the body after its own wait).
    if (r.expect_continue && !raw->current && raw->queue.empty()) self->send(raw->fd, http::continue_response());
  });
  c->parser.on_request([raw](http::request& r) {
    raw->queue.push_back(http_pending{std::move(r), 0, {}});
    raw->headers_seen = false;
    raw->head_started = steady_ms();  // a pipelined request may begin right after
  });
  c->parser.on_error([raw](const http::parse_error& e) { raw->queue.push_back(http_pending{{}, e.status, e.reason}); });
  conns[fd] = c;
  return c;
}

void http_server::http_impl::received(int fd, std::string_view data) {
  auto it = conns.find(fd);
  std::shared_ptr<http_conn> c = it != conns.end() ? it->second : connected(fd, nullptr);
  if (c->closing) return;
  c->last_active = steady_ms();
  if (c->ws) {
    feed_ws(c, data);
    return;
  }
  feed_http(c, data);
  pump(c);
}

void http_server::http_impl::feed_http(const std::shared_ptr<http_conn>& c, std::string_view data) {
  if (c->parser.upgraded()) {  // bytes past an upgrade request wait for its answer
    c->after_upgrade.append(data);
    if (c->after_upgrade.size() > cfg().package_max_length) {
      log(log_level::info, fmt::format("connection {}: too much data after an upgrade request; closed", c->fd));
      close_conn(*c);
    }
    return;
  }
  if (c->parser.idle()) {
    c->head_started = steady_ms();
    c->headers_seen = false;
  }
  size_t used = c->parser.feed(data.data(), data.size());
  if (c->parser.upgraded() && used < data.size()) c->after_upgrade.append(data.substr(used));
}

void http_server::http_impl::close_conn(http_conn& c) {
  if (c.closing) return;
  c.closing = true;
  self->close(c.fd);  // after what was sent; on_close then drops the state
}

void http_server::http_impl::closed(int fd) {
  auto it = conns.find(fd);
  if (it == conns.end()) return;
  std::shared_ptr<http_conn> c = std::move(it->second);
  conns.erase(it);
  c->closing = true;  // a held response now reports not writable
  c->queue.clear();
}

void http_server::http_impl::pump(const std::shared_ptr<http_conn>& c) {
  if (c->pumping) return;  // the loop below picks up what an end() inside it freed
  c->pumping = true;
  while (!c->closing && !c->current && !c->ws) {
    if (c->queue.empty()) {
      // Everything up to a (refused) upgrade request is answered: HTTP goes on.
      if (c->parser.upgraded()) {
        c->parser.reset();
        std::string rest = std::move(c->after_upgrade);
        c->after_upgrade.clear();
        if (!rest.empty()) {
          feed_http(c, rest);
          continue;
        }
      }
      break;
    }
    http_pending p = std::move(c->queue.front());
    c->queue.pop_front();
    if (p.error) {
      log(log_level::info, fmt::format("connection {} ({}:{}): {} {}; closing it", c->fd, c->peer.ip, c->peer.port,
                                       p.error, p.reason));
      self->send(c->fd, http::error_response(p.error, p.reason));
      close_conn(*c);
      break;
    }
    dispatch(c, p.req);
  }
  c->pumping = false;
}

void http_server::http_impl::build_request(http_conn& c, http::request& r, http_request& req,
                                           http_response::state& st) {
  const struct settings& s = cfg();
  req.fd = c.fd;
  std::string_view cookie_header, content_type;
  for (http::header& h : r.headers) {
    std::string name = std::move(h.name);
    for (char& ch : name) ch = lower_char(ch);
    auto [it, fresh] = req.header.try_emplace(std::move(name), std::move(h.value));
    if (!fresh) {
      it->second += it->first == "cookie" ? "; " : ", ";
      it->second += h.value;
    }
  }
  if (auto it = req.header.find("cookie"); it != req.header.end()) cookie_header = it->second;
  if (auto it = req.header.find("content-type"); it != req.header.end()) content_type = it->second;
  if (auto it = req.header.find("accept-encoding"); it != req.header.end()) st.accept_gzip = accepts_gzip(it->second);
  if (auto it = req.header.find("range"); it != req.header.end()) st.range = it->second;
  if (auto it = req.header.find("if-modified-since"); it != req.header.end()) st.if_modified_since = it->second;

  // The target: origin-form "/p?q", or absolute-form "http://host/p?q".
  std::string_view target = r.target;
  if (target.starts_with("http://") || target.starts_with("https://")) {
    size_t slash = target.find('/', target.find("//") + 2);
    target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
  }
  size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  size_t hash = path.find('#');
  if (hash != std::string_view::npos) path = path.substr(0, hash);

  const int64_t now_us = [] {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
  }();
  if (now_us / 1000000 != time_cached) {
    time_cached = now_us / 1000000;
    time_text = std::to_string(time_cached);
  }
  auto& sv = req.server;
  sv.emplace("request_method", std::move(r.method));
  sv.emplace("request_uri", std::string(path));
  sv.emplace("path_info", std::string(path));
  if (q != std::string_view::npos) {
    std::string_view query = target.substr(q + 1);
    size_t h2 = query.find('#');
    if (h2 != std::string_view::npos) query = query.substr(0, h2);
    sv.emplace("query_string", std::string(query));
    http_body::parse_query(query, req.get);
  }
  sv.emplace("server_protocol", r.version_minor == 0 ? "HTTP/1.0" : "HTTP/1.1");
  sv.emplace("remote_addr", c.peer.ip);
  sv.emplace("remote_port", c.remote_port);
  sv.emplace("server_port", c.server_port);
  sv.emplace("request_time", time_text);
  sv.emplace("request_time_float", fmt::format("{}.{:06d}", now_us / 1000000, int(now_us % 1000000)));
  sv.emplace("master_time", time_text);

  if (s.http_parse_cookie && !cookie_header.empty()) http_body::parse_cookies(cookie_header, req.cookie);
  req.body = std::move(r.body);
  if (s.http_parse_post && !req.body.empty() && !content_type.empty()) {
    std::string_view type = trim(content_type.substr(0, content_type.find(';')));
    if (http::iequals(type, "application/x-www-form-urlencoded")) {
      http_body::parse_query(req.body, req.post);
    } else if (http::iequals(type, "multipart/form-data")) {
      http_body::multipart_limits lim;
      lim.tmp_dir = s.upload_tmp_dir;
      lim.max_file = s.upload_max_filesize;
      if (!http_body::parse_multipart(req.body, http_body::header_param(content_type, "boundary"), lim, req.post,
                                      req.files, st.tmp_files))
        log(log_level::info, fmt::format("connection {}: a malformed multipart body (fields so far kept)", c.fd));
    }
  }
}

void http_server::http_impl::dispatch(const std::shared_ptr<http_conn>& c, http::request& r) {
  auto st = std::make_shared<http_response::state>();
  st->owner = this;
  st->conn = c;
  st->fd = c->fd;
  st->http10 = r.version_minor == 0;
  st->keep_alive = r.keep_alive;
  st->head = r.method == "HEAD";
  // Another upgrade (h2c, ...) or CONNECT is answered in HTTP/1.1 and the
  // connection goes on as HTTP (pump() resets the parser once it is answered).
  const bool ws_upgrade = ws && is_ws_upgrade(r);
  http_request req;
  build_request(*c, r, req, *st);
  http_response resp(st);
  c->current = st;

  if (ws_upgrade) {
    handshake(c, req, resp, r);
    return;
  }
  if (serve_static(req, resp)) return;
  if (!self->on_request) {
    resp.status(ws ? 400 : 404);
    resp.header("Content-Type", "text/plain");
    resp.end(ws ? "400 Bad Request: not a WebSocket handshake\n" : "404 Not Found\n");
    return;
  }
  bool threw = true;
  try {
    self->on_request(req, resp);
    threw = false;
  } catch (const std::exception& e) {
    log(log_level::error, fmt::format("on_request threw: {}", e.what()));
  } catch (...) {
    log(log_level::error, "on_request threw a non-standard exception");
  }
  // Held: hold() was called, or a copy of the response outlives the call
  // (here: st, resp and c->current).
  if (!st->ended && !st->held && st.use_count() <= 3) {
    if (st->streaming) {
      // The head is out: the status cannot change any more; end what was written.
      log(log_level::warning, fmt::format("connection {}: on_request returned with the response streaming and not "
                                          "ended; ended",
                                          c->fd));
      resp.end();
    } else if (st->writable()) {
      if (!threw)
        log(log_level::warning,
            fmt::format("connection {}: on_request returned without ending the response; 500", c->fd));
      st->status = 500;
      st->reason.clear();
      st->headers.clear();
      st->has_content_type = st->has_encoding = st->has_date = st->has_server = false;
      resp.header("Content-Type", "text/plain");
      resp.end("500 Internal Server Error\n");
    }
  }
}

void http_server::http_impl::finished(http_response::state& st) {
  st.ended = true;
  st.remove_tmp_files();
  std::shared_ptr<http_conn> c = st.conn.lock();
  if (!c) return;
  if (c->current.get() == &st) c->current = nullptr;
  c->last_active = steady_ms();
  if (st.handshake) return;  // handshake() decides what follows
  if (!st.keep_alive) {
    close_conn(*c);
    return;
  }
  pump(c);
}

void http_server::http_impl::sweep() {
  const struct settings& s = cfg();
  const int64_t now = steady_ms();
  const int64_t head_ms = int64_t(s.http_header_timeout * 1000), idle_ms = int64_t(s.http_idle_timeout * 1000);
  std::vector<std::shared_ptr<http_conn>> expired;
  for (auto& [fd, c] : conns) {
    if (c->closing || c->ws || c->current || !c->queue.empty()) continue;  // in the handler's hands
    bool late;
    const char* what;
    if (!c->parser.idle() && !c->headers_seen) {  // a request head arriving
      late = head_ms > 0 && now - c->head_started >= head_ms;
      what = "request head not complete within http_header_timeout";
    } else {  // between requests, or a body arriving
      late = idle_ms > 0 && now - c->last_active >= idle_ms;
      what = "idle for http_idle_timeout";
    }
    if (late) {
      log(log_level::info, fmt::format("connection {} ({}:{}): {}; closed", fd, c->peer.ip, c->peer.port, what));
      expired.push_back(c);
    }
  }
  for (auto& c : expired) close_conn(*c);
}

}  // namespace tern::server
