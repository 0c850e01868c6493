// tern::server::websocket_server: swoole's WebSocket\Server on http_server.
//
// A request that asks for the WebSocket upgrade (Connection: upgrade,
// Upgrade: websocket) is answered by on_handshake, or by the RFC 6455 check
// (ws::server_handshake: 101, or 400 / 426 and the close). After the 101 the
// connection's bytes go to a ws::decoder (masking, fragmentation, UTF-8,
// websocket_max_frame_size): messages to on_message, pings answered, close
// frames echoed; a protocol error is answered with a close frame carrying
// the decoder's code, then the close.
//
// push / disconnect / is_established: a connection's state lives in the
// worker that owns it. Frames need no state, so push() from any worker
// sends through server::send (PROCESS: via the master). is_established() is
// answered from this worker's table; for an fd this worker does not hold,
// push() and disconnect() trust the caller, except where this worker would
// own it (dispatch_mode 2: fd % worker_num is this worker; BASE mode: every
// connection the worker can write is its own), which is a sure "no".
#include <fmt/format.h>

#include "server/http_impl.hpp"

namespace tern::server {

namespace ws = http::ws;

websocket_server::websocket_server(std::string host, int port, mode m, sock_type type)
    : http_server(std::move(host), port, m, type) {
  http_->ws = this;
}

std::string websocket_server::accept_key(std::string_view sec_websocket_key) {
  return ws::accept_key(sec_websocket_key);
}

bool http_server::http_impl::is_ws_upgrade(const http::request& r) const {
  return r.upgrade && r.headers.has_token("upgrade", "websocket");
}

bool http_server::http_impl::send_frame(int fd, ws::opcode op, std::string_view payload, bool fin) {
  std::string f;
  f.reserve(payload.size() + 10);
  ws::append_frame(f, op, payload, fin);
  return self->send(fd, f);
}

void http_server::http_impl::handshake(const std::shared_ptr<http_conn>& c, http_request& req, http_response& resp,
                                       http::request& r) {
  std::shared_ptr<http_response::state> st = c->current;
  st->handshake = true;
  auto refuse = [&](int status, std::string_view why) {
    if (!st->ended) {
      st->status = status;
      st->keep_alive = false;
      resp.header("Content-Type", "text/plain");
      resp.end(fmt::format("{} {}\n", status, why));
    }
    close_conn(*c);
  };
  if (req.method() != "GET" || r.version_minor == 0) {
    refuse(400, "a WebSocket handshake is an HTTP/1.1 GET");
    return;
  }
  if (ws->on_handshake) {
    bool ok = false;
    try {
      ok = ws->on_handshake(req, resp);
    } catch (const std::exception& e) {
      log(log_level::error, fmt::format("on_handshake threw: {}", e.what()));
    } catch (...) {
      log(log_level::error, "on_handshake threw a non-standard exception");
    }
    if (!ok || st->status != 101) {
      refuse(st->status == 200 || st->status == 101 ? 400 : st->status, "handshake refused");
      return;
    }
    if (!st->ended) resp.end();
    if (c->closing) return;
    established(c, req);
    return;
  }
  std::vector<ws::header> hs;
  hs.reserve(req.header.size());
  for (const auto& [name, value] : req.header) hs.emplace_back(name, value);
  ws::handshake_result res = ws::server_handshake(hs);
  self->send(c->fd, res.response);
  finished(*st);
  if (!res.ok()) {
    log(log_level::info, fmt::format("connection {}: WebSocket handshake refused ({}): {}", c->fd, res.status,
                                     res.error));
    close_conn(*c);
    return;
  }
  established(c, req);
}

void http_server::http_impl::established(const std::shared_ptr<http_conn>& c, http_request& req) {
  c->ws = true;
  c->current = nullptr;
  c->queue.clear();
  const struct settings& s = cfg();
  ws::limits lim;
  lim.max_frame = s.websocket_max_frame_size;
  lim.max_message = s.websocket_max_frame_size;
  http_conn* raw = c.get();
  ws::decoder::callbacks cb;
  auto deliver = [this, raw](ws_frame& f) {
    if (ws->on_message) d->run_callback("on_message", [&] { ws->on_message(*ws, f); });
  };
  cb.on_message = [raw, deliver](ws::opcode op, std::string_view payload) {
    if (raw->closing) return;
    ws_frame f;
    f.fd = raw->fd;
    f.data.assign(payload);
    f.opcode = int(op);
    deliver(f);
  };
  cb.on_control = [this, raw, deliver](ws::opcode op, std::string_view payload) {
    if (raw->closing) return;
    const struct settings& cs = cfg();
    const bool show = op == ws::opcode::ping ? cs.open_websocket_ping_frame : cs.open_websocket_pong_frame;
    if (show) {
      ws_frame f;
      f.fd = raw->fd;
      f.data.assign(payload);
      f.opcode = int(op);
      deliver(f);
    } else if (op == ws::opcode::ping) {
      send_frame(raw->fd, ws::opcode::pong, payload);
    }
  };
  cb.on_close = [this, raw, deliver](uint16_t code, std::string_view reason) {
    if (raw->closing) return;
    if (cfg().open_websocket_close_frame) {  // the handler answers (disconnect / close)
      ws_frame f;
      f.fd = raw->fd;
      f.data.assign(reason);
      f.opcode = WEBSOCKET_OPCODE_CLOSE;
      f.code = code;
      deliver(f);
      return;
    }
    send_frame(raw->fd, ws::opcode::close, ws::close_payload(code));  // echo the code, then close
    close_conn(*raw);
  };
  c->decoder = std::make_unique<ws::decoder>(ws::role::server, std::move(cb), lim);
  if (ws->on_open) d->run_callback("on_open", [&] { ws->on_open(*ws, req); });
  if (!c->after_upgrade.empty() && !c->closing) {
    std::string rest = std::move(c->after_upgrade);
    c->after_upgrade.clear();
    feed_ws(c, rest);
  }
}

void http_server::http_impl::feed_ws(const std::shared_ptr<http_conn>& c, std::string_view data) {
  if (c->closing || !c->decoder) return;
  if (c->decoder->feed(data) || c->closing) return;
  uint16_t code = c->decoder->error();
  log(log_level::info, fmt::format("connection {}: WebSocket protocol error {} ({}); closing it", c->fd, code,
                                   c->decoder->error_reason()));
  send_frame(c->fd, ws::opcode::close, ws::close_payload(code, c->decoder->error_reason()));
  close_conn(*c);
}

// --- the API -------------------------------------------------------------------------

namespace {

bool valid_opcode(int op, bool finish, size_t size) {
  switch (op) {
    case 0:
    case WEBSOCKET_OPCODE_TEXT:
    case WEBSOCKET_OPCODE_BINARY:
      return true;
    case WEBSOCKET_OPCODE_CLOSE:
    case WEBSOCKET_OPCODE_PING:
    case WEBSOCKET_OPCODE_PONG:
      return finish && size <= 125;  // control frames: whole and short
    default:
      return false;
  }
}

}  // namespace

bool websocket_server::is_established(int fd) const {
  auto it = http_->conns.find(fd);
  return it != http_->conns.end() && it->second->ws && !it->second->closing;
}

// fd is not in this worker's table: whether another worker may hold it.
static bool elsewhere(const server::impl& d, int fd) {
  if (d.run_mode == mode::base) return false;  // a BASE worker writes only its own connections
  if (d.cfg.dispatch == dispatch_mode::fd_modulo && fd % d.cfg.worker_num == d.my_worker_id) return false;
  return fd > 0;
}

bool websocket_server::push(int fd, std::string_view data, int opcode, bool finish) {
  server::impl& d = internals();
  if (!valid_opcode(opcode, finish, data.size()))
    return d.fail(fmt::format("push: opcode {} (finish {}, {} bytes) is not a frame to send", opcode, finish,
                              data.size()));
  auto it = http_->conns.find(fd);
  if (it != http_->conns.end() ? !(it->second->ws && !it->second->closing) : !elsewhere(d, fd))
    return d.fail(fmt::format("push: {} is not an established WebSocket connection", fd));
  return http_->send_frame(fd, ws::opcode(opcode), data, finish);
}

bool websocket_server::disconnect(int fd, int code, std::string_view reason) {
  server::impl& d = internals();
  if (code < 0 || code > 65535) return d.fail(fmt::format("disconnect: bad close code {}", code));
  auto it = http_->conns.find(fd);
  std::shared_ptr<http_conn> c = it != http_->conns.end() ? it->second : nullptr;
  if (c ? !(c->ws && !c->closing) : !elsewhere(d, fd))
    return d.fail(fmt::format("disconnect: {} is not an established WebSocket connection", fd));
  http_->send_frame(fd, ws::opcode::close, ws::close_payload(uint16_t(code), reason));
  if (c) {
    http_->close_conn(*c);
    return true;
  }
  return close(fd);
}

}  // namespace tern::server
