// tern::server: echo in both modes, framing (length, eof), queries to the
// master, dispatch_mode 2, many connections. Each test forks a server.
#include <sys/resource.h>

#include <map>

#include "server_test_util.hpp"

using namespace server_test;

namespace {

// "pid\n" -> the worker's pid; anything else is echoed.
void pid_echo(server& s) {
  s.on_receive = [](server& srv, int fd, int, std::string_view data) {
    if (data == "pid\n")
      srv.send(fd, std::to_string(getpid()) + "\n");
    else
      srv.send(fd, data);
  };
}

class ServerEcho : public ServerFixture, public ::testing::WithParamInterface<mode> {};

TEST_P(ServerEcho, EchoesOnSeveralConnections) {
  start(GetParam(), [](server& s) {
    s.set({{"worker_num", int64_t(2)}, {"reactor_num", int64_t(2)}});
    pid_echo(s);
  });
  std::vector<int> fds;
  for (int i = 0; i < 4; ++i) fds.push_back(client());
  for (int round = 0; round < 3; ++round)
    for (size_t i = 0; i < fds.size(); ++i) {
      std::string msg = "hello " + std::to_string(i) + "/" + std::to_string(round) + "\n";
      ASSERT_EQ(ask(fds[i], msg), msg);
    }
}

TEST_P(ServerEcho, LengthFramingOneCallbackPerPacket) {
  start(GetParam(), [](server& s) {
    s.set({{"worker_num", int64_t(1)},
           {"open_length_check", true},
           {"package_length_type", std::string("N")},
           {"package_length_offset", int64_t(0)},
           {"package_body_offset", int64_t(4)}});
    // One reply line per on_receive: "<body size>:<body>\n".
    s.on_receive = [](server& srv, int fd, int, std::string_view data) {
      srv.send(fd, std::to_string(data.size() - 4) + ":" + std::string(data.substr(4)) + "\n");
    };
  });
  int fd = client();
  // Three packets in one write: three callbacks.
  ASSERT_TRUE(send_all(fd, length_packet("one") + length_packet("two2") + length_packet("three")));
  EXPECT_EQ(recv_until(fd, "\n"), "3:one\n");
  EXPECT_EQ(recv_until(fd, "\n"), "4:two2\n");
  EXPECT_EQ(recv_until(fd, "\n"), "5:three\n");
  // One packet over several writes (the header split too): one callback.
  std::string p = length_packet(std::string(100000, 'x'));
  ASSERT_TRUE(send_all(fd, p.substr(0, 2)));
  std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(send_all(fd, p.substr(2, 50000)));
  std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(send_all(fd, p.substr(50002) + length_packet("after")));
  EXPECT_EQ(recv_until(fd, "\n"), "100000:" + std::string(100000, 'x') + "\n");
  EXPECT_EQ(recv_until(fd, "\n"), "5:after\n");
}

TEST_P(ServerEcho, EofSplit) {
  start(GetParam(), [](server& s) {
    s.set({{"worker_num", int64_t(1)}, {"open_eof_split", true}, {"package_eof", std::string("\r\n")}});
    s.on_receive = [](server& srv, int fd, int, std::string_view data) {
      srv.send(fd, "[" + std::string(data) + "]");
    };
  });
  int fd = client();
  ASSERT_TRUE(send_all(fd, "a\r\nbb\r\nccc"));
  EXPECT_EQ(recv_n(fd, 11), "[a\r\n][bb\r\n]");
  ASSERT_TRUE(send_all(fd, "\r"));
  std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(send_all(fd, "\n"));
  EXPECT_EQ(recv_n(fd, 7), "[ccc\r\n]");
}

TEST_P(ServerEcho, PacketOverMaxLengthClosesOnlyThatConnection) {
  std::string log = dir + "/server.log";
  start(GetParam(), [log](server& s) {
    s.set({{"worker_num", int64_t(1)},
           {"open_length_check", true},
           {"package_length_type", std::string("N")},
           {"package_body_offset", int64_t(4)},
           {"package_max_length", int64_t(1024)},
           {"log_file", log}});
    s.on_receive = [](server& srv, int fd, int, std::string_view data) { srv.send(fd, data); };
  });
  int good = client();
  int bad = client();
  ASSERT_TRUE(send_all(good, length_packet("hello")));
  ASSERT_EQ(recv_n(good, 9), length_packet("hello"));
  std::string huge = length_packet(std::string(2000, 'z'));
  ASSERT_TRUE(send_all(bad, huge.substr(0, 100)));
  EXPECT_TRUE(wait_eof(bad));
  ASSERT_TRUE(send_all(good, length_packet("still")));
  EXPECT_EQ(recv_n(good, 9), length_packet("still"));
  EXPECT_TRUE(eventually([&] { return read_file(log).find("package_max_length") != std::string::npos; }))
      << read_file(log);
}

INSTANTIATE_TEST_SUITE_P(Modes, ServerEcho, ::testing::Values(mode::process, mode::base),
                         [](const ::testing::TestParamInfo<mode>& p) { return p.param == mode::process ? "Process" : "Base"; });

using ServerDispatch = ServerFixture;

TEST_F(ServerDispatch, FdModuloKeepsAConnectionOnOneWorker) {
  start(mode::process, [](server& s) {
    s.set({{"worker_num", int64_t(3)}, {"dispatch_mode", int64_t(2)}});
    pid_echo(s);
  });
  std::set<std::string> all;
  for (int c = 0; c < 4; ++c) {
    int fd = client();
    std::string first = ask(fd, "pid\n");
    ASSERT_FALSE(first.empty());
    for (int i = 0; i < 8; ++i) EXPECT_EQ(ask(fd, "pid\n"), first);
    all.insert(first);
  }
  EXPECT_GE(all.size(), 2u);  // consecutive fds go to different workers
}

TEST_F(ServerDispatch, RoundRobinSpreadsPackets) {
  start(mode::process, [](server& s) {
    s.set({{"worker_num", int64_t(2)}, {"dispatch_mode", int64_t(1)}});
    pid_echo(s);
  });
  int fd = client();
  std::set<std::string> pids;
  for (int i = 0; i < 6; ++i) pids.insert(ask(fd, "pid\n"));
  EXPECT_EQ(pids.size(), 2u);
}

TEST_F(ServerDispatch, PreemptivePrefersAnIdleWorker) {
  start(mode::process, [](server& s) {
    s.set({{"worker_num", int64_t(3)}, {"dispatch_mode", int64_t(3)}});
    s.on_receive = [](server& srv, int fd, int, std::string_view data) {
      if (data == "slow\n") std::this_thread::sleep_for(std::chrono::milliseconds(600));
      srv.send(fd, std::to_string(getpid()) + "\n");
    };
  });
  int a = client(), b = client();
  ASSERT_FALSE(ask(b, "warm up\n").empty());
  ASSERT_TRUE(send_all(a, "slow\n"));
  std::this_thread::sleep_for(50ms);
  // The busy worker is skipped: b's requests are answered at once by the others.
  int64_t t0 = now_ms();
  std::vector<std::string> fast;
  for (int i = 0; i < 4; ++i) fast.push_back(ask(b, "fast\n"));
  EXPECT_LT(now_ms() - t0, 400);
  std::string busy = recv_until(a, "\n");
  ASSERT_FALSE(busy.empty());
  for (auto& pid : fast) EXPECT_NE(pid, busy);
}

using ServerQuery = ServerFixture;

TEST_F(ServerQuery, ClientInfoExistsListBind) {
  start(mode::process, [](server& s) {
    s.set({{"worker_num", int64_t(2)}, {"dispatch_mode", int64_t(5)}});
    s.on_receive = [](server& srv, int fd, int, std::string_view data) {
      std::string out;
      if (data == "info\n") {
        auto ci = srv.get_client_info(fd);
        out = ci ? ci->remote_ip + " " + std::to_string(ci->remote_port) + " " + std::to_string(ci->recv_bytes) +
                       " " + std::to_string(ci->uid)
                 : "none";
        out += srv.exists(fd) ? " yes" : " no";
        out += srv.exists(fd + 1000) ? " yes" : " no";
        out += " list=" + std::to_string(srv.get_client_list(0, 100).size());
      } else if (data.starts_with("bind ")) {
        out = srv.bind(fd, uint32_t(std::stoul(std::string(data.substr(5))))) ? "bound" : "not bound";
      } else {
        out = std::to_string(getpid());
      }
      srv.send(fd, out + "\n");
    };
  });
  int fd = client();
  int other = client();
  ASSERT_FALSE(ask(other, "pid\n").empty());  // accepted by now
  sockaddr_in me{};
  socklen_t len = sizeof me;
  getsockname(fd, reinterpret_cast<sockaddr*>(&me), &len);
  EXPECT_EQ(ask(fd, "info\n"), "127.0.0.1 " + std::to_string(ntohs(me.sin_port)) + " 5 0 yes no list=2\n");
  EXPECT_EQ(ask(fd, "bind 7\n"), "bound\n");
  EXPECT_EQ(ask(fd, "bind 8\n"), "not bound\n");  // once only
  // dispatch_mode 5: uid 7 % 2 -> worker 1, the same for every packet now.
  std::string pid = ask(fd, "pid\n");
  for (int i = 0; i < 4; ++i) EXPECT_EQ(ask(fd, "pid\n"), pid);
  EXPECT_NE(ask(fd, "info\n").find(" 7 yes"), std::string::npos);
}

using ServerLoad = ServerFixture;

TEST_F(ServerLoad, ManyConcurrentConnectionsEcho) {
  // 10,000 connections when the descriptor limit allows (the number), else 1,000.
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  getrlimit(RLIMIT_NOFILE, &rl);
  const size_t n = rl.rlim_cur >= 10300 ? 10000 : 1000;
  ASSERT_GE(rl.rlim_cur, n + 100) << "RLIMIT_NOFILE too low";
  start(mode::process, [](server& s) {
    s.set({{"worker_num", int64_t(2)}, {"backlog", int64_t(4096)}, {"log_level", int64_t(4)}});
    s.on_receive = [](server& srv, int fd, int, std::string_view data) { srv.send(fd, data); };
  });
  std::vector<int> fds;
  fds.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    int fd = client();
    ASSERT_GE(fd, 0) << "connection " << i;
    fds.push_back(fd);
  }
  for (size_t i = 0; i < n; ++i) ASSERT_TRUE(send_all(fds[i], "m" + std::to_string(i) + "\n"));
  size_t ok = 0;
  for (size_t i = 0; i < n; ++i) ok += recv_until(fds[i], "\n") == "m" + std::to_string(i) + "\n";
  EXPECT_EQ(ok, n);
}

}  // namespace

namespace {

// examples/server/echo_server.cpp, next to this binary's directory (built by
// the default target; skipped when only the test target was built).
std::string echo_binary() {
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return {};
  std::string path(self, size_t(n));
  path = path.substr(0, path.rfind('/'));                           // <build>/tests
  return path.substr(0, path.rfind('/')) + "/examples/tern_echo_server";  // <build>/examples
}

class ServerExample : public ServerFixture, public ::testing::WithParamInterface<const char*> {};

TEST_P(ServerExample, EchoBinaryWithLengthFraming) {
  std::string bin = echo_binary();
  if (access(bin.c_str(), X_OK) != 0) GTEST_SKIP() << bin << " not built";
  std::string port_text = std::to_string(port);
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 2);
    execl(bin.c_str(), bin.c_str(), "127.0.0.1", port_text.c_str(), GetParam(), "2", "length", (char*)nullptr);
    _exit(127);
  }
  servers.push_back(pid);
  int fd = client();
  ASSERT_GE(fd, 0);
  std::string packets = length_packet("one") + length_packet(std::string(70000, 'q')) + length_packet("three");
  ASSERT_TRUE(send_all(fd, packets));
  EXPECT_EQ(recv_n(fd, packets.size()), packets);
  servers.clear();
  EXPECT_EQ(stop_server(pid), 0);
}

INSTANTIATE_TEST_SUITE_P(Modes, ServerExample, ::testing::Values("process", "base"),
                         [](const ::testing::TestParamInfo<const char*>& p) {
                           return std::string(p.param) == "process" ? "Process" : "Base";
                         });

}  // namespace
