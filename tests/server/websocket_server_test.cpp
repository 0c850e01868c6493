// tern::server::websocket_server: the upgrade, messages both ways, control
// frames, protocol errors answered with their close codes, push between
// connections, disconnect, on_handshake, plain HTTP on a WebSocket server.
// The client is tern::http::ws's encoder (masked) and decoder over a raw
// socket. Each test forks a server and cleans up every process it made.
#include "http_test_util.hpp"

using namespace http_test;

namespace {

std::string mode_name(const ::testing::TestParamInfo<mode>& p) { return p.param == mode::process ? "Process" : "Base"; }

// Whether a line of `text` is fd.
bool has_fd_line(const std::string& text, int fd) {
  std::string all = "\n";
  all += text;
  std::string line = "\n";
  line += std::to_string(fd);
  line += '\n';
  return all.find(line) != std::string::npos;
}

class WebSocketServer : public ServerFixture, public ::testing::WithParamInterface<mode> {
 protected:
  void start_ws(mode m, setting_map extra = {}, std::function<void(websocket_server&)> more = nullptr) {
    std::string d = dir;
    pid_t pid = fork_http<websocket_server>(port, m, [&](websocket_server& s) {
      setting_map set{{"worker_num", int64_t(2)}, {"log_level", int64_t(4)}, {"websocket_max_frame_size", int64_t(1024)}};
      for (auto& [k, v] : extra) set[k] = v;
      if (!s.set(set)) fprintf(stderr, "set: %s\n", s.error().c_str());
      s.on_open = [](websocket_server& srv, http_request& req) { srv.push(req.fd, "fd:" + std::to_string(req.fd)); };
      s.on_message = [](websocket_server& srv, ws_frame& f) {
        if (f.data.rfind("to:", 0) == 0) {  // "to:<fd>:<text>"
          size_t colon = f.data.find(':', 3);
          int to = std::atoi(f.data.c_str() + 3);
          bool ok = srv.push(to, f.data.substr(colon + 1));
          srv.push(f.fd, ok ? "sent" : "failed");
        } else if (f.data == "bye") {
          srv.disconnect(f.fd, 4000, "bye");
        } else if (f.data == "established?") {
          srv.push(f.fd, srv.is_established(f.fd) ? "yes" : "no");
        } else if (f.opcode == tern::server::WEBSOCKET_OPCODE_PING) {  // open_websocket_ping_frame
          srv.push(f.fd, "ping:" + f.data);
        } else if (f.opcode == tern::server::WEBSOCKET_OPCODE_PONG) {  // open_websocket_pong_frame
          srv.push(f.fd, "pong:" + f.data);
        } else if (f.opcode == tern::server::WEBSOCKET_OPCODE_CLOSE) {  // open_websocket_close_frame
          srv.disconnect(f.fd, f.code, "seen " + f.data);
        } else {
          srv.push(f.fd, f.data, f.opcode);
        }
      };
      s.on_close = [d](tern::server::server&, int fd, int) { append_file(d + "/closed", std::to_string(fd) + "\n"); };
      if (more) more(s);
    });
    servers.push_back(pid);
    ASSERT_TRUE(wait_http(port));
  }

  // A connected, upgraded client and its fd on the server (from on_open's push).
  std::pair<std::unique_ptr<ws_client>, int> open_client() {
    int fd = client();
    auto c = std::make_unique<ws_client>(fd);
    response r = c->handshake();
    EXPECT_EQ(r.status, 101);
    ws_message hello = c->next();
    EXPECT_EQ(hello.data.rfind("fd:", 0), 0u) << hello.data;
    return {std::move(c), std::atoi(hello.data.c_str() + 3)};
  }
};

TEST_P(WebSocketServer, HandshakeAndEchoTextAndBinary) {
  start_ws(GetParam());
  int fd = client();
  ws_client c(fd);
  response r = c.handshake();
  ASSERT_EQ(r.status, 101);
  EXPECT_EQ(lower(r.header("upgrade")), "websocket");
  EXPECT_EQ(r.header("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");  // RFC 6455's example
  ws_message hello = c.next();
  EXPECT_EQ(hello.op, ws::opcode::text);
  EXPECT_EQ(hello.data.rfind("fd:", 0), 0u);
  ASSERT_TRUE(c.send(ws::opcode::text, "hello, tern"));
  ws_message m = c.next();
  EXPECT_EQ(m.op, ws::opcode::text);
  EXPECT_EQ(m.data, "hello, tern");
  std::string bin("\x00\x01\xff\xfe", 4);
  ASSERT_TRUE(c.send(ws::opcode::binary, bin));
  m = c.next();
  EXPECT_EQ(m.op, ws::opcode::binary);
  EXPECT_EQ(m.data, bin);
  ASSERT_TRUE(c.send(ws::opcode::text, "established?"));
  EXPECT_EQ(c.next().data, "yes");
}

TEST_P(WebSocketServer, FragmentedMessageIsReassembledAroundAPing) {
  start_ws(GetParam());
  auto [c, fd] = open_client();
  ASSERT_TRUE(c->send(ws::opcode::text, "Hel", false));
  ASSERT_TRUE(c->send(ws::opcode::continuation, "lo ", false));
  ASSERT_TRUE(c->send(ws::opcode::ping, "p1"));
  ASSERT_TRUE(c->send(ws::opcode::continuation, "world", true));
  ws_message pong = c->next();
  EXPECT_EQ(pong.op, ws::opcode::pong);
  EXPECT_EQ(pong.data, "p1");
  ws_message m = c->next();
  EXPECT_EQ(m.op, ws::opcode::text);
  EXPECT_EQ(m.data, "Hello world");
}

TEST_P(WebSocketServer, ClientCloseIsEchoedAndOnCloseRuns) {
  start_ws(GetParam());
  auto [c, fd] = open_client();
  ASSERT_TRUE(c->send(ws::opcode::close, ws::close_payload(1000, "done")));
  ws_message m = c->next();
  EXPECT_EQ(m.op, ws::opcode::close);
  EXPECT_EQ(m.code, 1000);
  EXPECT_TRUE(wait_eof(clients.back(), 3000));
  // (the readiness probe's connection is in there too)
  EXPECT_TRUE(eventually([&] { return has_fd_line(read_file(dir + "/closed"), fd); })) << read_file(dir + "/closed");
}

TEST_P(WebSocketServer, ProtocolErrorsCloseWithTheirCodes) {
  start_ws(GetParam());
  struct error_case {
    std::string frame;
    uint16_t code;
  };
  ws::encoder enc(ws::role::client);
  const error_case cases[] = {
      {ws::frame(ws::opcode::text, "unmasked"), 1002},                    // a client must mask
      {enc.frame(ws::opcode::text, std::string("\xff\xfe bad", 6)), 1007},  // not UTF-8
      {enc.frame(ws::opcode::binary, std::string(2000, 'x')), 1009},      // over websocket_max_frame_size
  };
  for (const auto& ec : cases) {
    auto [c, fd] = open_client();
    ASSERT_TRUE(c->send_raw(ec.frame));
    ws_message m = c->next();
    EXPECT_EQ(m.op, ws::opcode::close) << ec.code << " " << m.data;
    EXPECT_EQ(m.code, ec.code);
    EXPECT_TRUE(wait_eof(clients.back(), 3000)) << ec.code;
  }
}

TEST_P(WebSocketServer, PushToAnotherConnectionAndDisconnect) {
  start_ws(GetParam(), {{"worker_num", int64_t(GetParam() == mode::base ? 1 : 2)}});
  auto [a, afd] = open_client();
  auto [b, bfd] = open_client();
  int b_sock = clients.back();
  ASSERT_TRUE(a->send(ws::opcode::text, "to:" + std::to_string(bfd) + ":hi B"));
  EXPECT_EQ(a->next().data, "sent");
  EXPECT_EQ(b->next().data, "hi B");
  ASSERT_TRUE(b->send(ws::opcode::text, "bye"));
  ws_message m = b->next();
  EXPECT_EQ(m.op, ws::opcode::close);
  EXPECT_EQ(m.code, 4000);
  EXPECT_EQ(m.data, "bye");
  EXPECT_TRUE(wait_eof(b_sock, 3000));
  // b is gone: a push to it fails (the worker that owned it knows).
  EXPECT_TRUE(eventually([&] { return has_fd_line(read_file(dir + "/closed"), bfd); }));
  if (GetParam() == mode::base) {
    ASSERT_TRUE(a->send(ws::opcode::text, "to:" + std::to_string(bfd) + ":again"));
    EXPECT_EQ(a->next().data, "failed");
  }
}

TEST_P(WebSocketServer, PingFrameDeliveredWhenAskedFor) {
  start_ws(GetParam(), {{"open_websocket_ping_frame", true}});
  auto [c, fd] = open_client();
  ASSERT_TRUE(c->send(ws::opcode::ping, "p"));
  ws_message m = c->next();
  EXPECT_EQ(m.op, ws::opcode::text);  // the handler's answer, no automatic pong before it
  EXPECT_EQ(m.data, "ping:p");
}

TEST_P(WebSocketServer, PongsReachOnMessageOnlyWhenAskedFor) {
  start_ws(GetParam());
  auto [c, fd] = open_client();
  ASSERT_TRUE(c->send(ws::opcode::pong, "unasked"));
  ASSERT_TRUE(c->send(ws::opcode::text, "after"));
  EXPECT_EQ(c->next().data, "after");  // the pong was not delivered
  stop_server(servers.back());
  servers.clear();
  port = free_port();
  start_ws(GetParam(), {{"open_websocket_pong_frame", true}});
  auto [c2, fd2] = open_client();
  ASSERT_TRUE(c2->send(ws::opcode::pong, "asked"));
  EXPECT_EQ(c2->next().data, "pong:asked");
}

TEST_P(WebSocketServer, CloseFrameReachesOnMessageWhenAskedFor) {
  start_ws(GetParam(), {{"open_websocket_close_frame", true}});
  auto [c, fd] = open_client();
  ASSERT_TRUE(c->send(ws::opcode::close, ws::close_payload(4001, "done")));
  ws_message m = c->next();  // the handler's answer (disconnect), not an automatic echo
  EXPECT_EQ(m.op, ws::opcode::close);
  EXPECT_EQ(m.code, 4001);
  EXPECT_EQ(m.data, "seen done");
  EXPECT_TRUE(wait_eof(clients.back(), 3000));
}

TEST_P(WebSocketServer, OnHandshakeRefusesOrAccepts) {
  start_ws(GetParam(), {}, [](websocket_server& s) {
    s.on_handshake = [](http_request& req, http_response& resp) {
      if (req.header["x-token"] != "ok") {
        resp.status(403);
        resp.end("no token");
        return false;
      }
      resp.status(101);
      resp.header("Upgrade", "websocket");
      resp.header("Connection", "Upgrade");
      resp.header("Sec-WebSocket-Accept", websocket_server::accept_key(req.header["sec-websocket-key"]));
      resp.header("X-Accepted", "1");
      return resp.end();
    };
  });
  int fd = client();
  ws_client refused(fd);
  response r = refused.handshake();
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.body, "no token");
  EXPECT_TRUE(wait_eof(fd, 3000));

  int fd2 = client();
  ws_client ok(fd2);
  response a = ok.handshake("/", "X-Token: ok\r\n");
  ASSERT_EQ(a.status, 101);
  EXPECT_EQ(a.header("x-accepted"), "1");
  EXPECT_EQ(lower(a.header("connection")), "upgrade");
  EXPECT_EQ(a.header("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  EXPECT_FALSE(a.has("content-length"));
  EXPECT_EQ(ok.next().data.rfind("fd:", 0), 0u);
  ASSERT_TRUE(ok.send(ws::opcode::text, "after handshake"));
  EXPECT_EQ(ok.next().data, "after handshake");
}

TEST_P(WebSocketServer, PlainHttpRequests) {
  start_ws(GetParam());
  int fd = client();
  response r = roundtrip(fd, get("/"));
  EXPECT_EQ(r.status, 400);  // no on_request
  stop_server(servers.back());
  servers.clear();
  port = free_port();
  start_ws(GetParam(), {}, [](websocket_server& s) {
    s.on_request = [](http_request& req, http_response& resp) { resp.end("http " + std::string(req.path())); };
  });
  int fd2 = client();
  response h = roundtrip(fd2, get("/page"));
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body, "http /page");
  // A bad handshake (no key) is refused.
  int fd3 = client();
  response bad = roundtrip(fd3,
                           "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n");
  EXPECT_EQ(bad.status, 400);
  EXPECT_TRUE(wait_eof(fd3, 3000));
}

INSTANTIATE_TEST_SUITE_P(Modes, WebSocketServer, ::testing::Values(mode::process, mode::base), mode_name);

}  // namespace
