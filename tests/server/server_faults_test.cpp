// tern::server: faults and the process lifecycle: a worker killed, reload
// under load, max_request, a throwing callback, heartbeat, pid_file, SIGTERM,
// a port in use, output buffer watermarks. Each test forks a server.
#include <atomic>
#include <mutex>

#include "server_test_util.hpp"

using namespace server_test;

namespace {

// Dead or a zombie (not reaped yet).
bool gone(pid_t pid) {
  if (!alive(pid)) return true;
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  return paren == std::string::npos || (paren + 2 < stat.size() && stat[paren + 2] == 'Z');
}

void pid_echo(server& s) {
  s.on_receive = [](server& srv, int fd, int, std::string_view data) {
    if (data == "pid\n")
      srv.send(fd, std::to_string(getpid()) + "\n");
    else
      srv.send(fd, data);
  };
}

using ServerFaults = ServerFixture;

TEST_F(ServerFaults, KilledWorkerIsReplacedAndTheConnectionLives) {
  pid_t master = start(mode::process, [](server& s) {
    s.set({{"worker_num", int64_t(1)}});
    pid_echo(s);
  });
  int fd = client();
  std::string first = ask(fd, "pid\n");
  ASSERT_FALSE(first.empty());
  pid_t worker = pid_t(std::stol(first));
  ASSERT_EQ(workers_of(master, 1), std::vector<pid_t>{worker});
  ASSERT_EQ(kill(worker, SIGKILL), 0);
  ASSERT_TRUE(eventually([&] { return gone(worker); }));
  // Asked at once: the request waits in the worker's socketpair for the replacement.
  std::string second = ask(fd, "pid\n");
  ASSERT_FALSE(second.empty()) << "no reply after the worker was killed";
  EXPECT_NE(second, first);
  EXPECT_EQ(ask(fd, "still here\n"), "still here\n");
}

TEST_F(ServerFaults, ReloadUnderLoadLosesNothing) {
  pid_t master = start(mode::process, [](server& s) {
    s.set({{"worker_num", int64_t(2)},
           {"dispatch_mode", int64_t(2)},
           {"open_eof_split", true},
           {"package_eof", std::string("\n")}});
    s.on_receive = [](server& srv, int fd, int, std::string_view data) {
      srv.send(fd, std::string(data.substr(0, data.size() - 1)) + " " + std::to_string(getpid()) + "\n");
    };
  });
  std::vector<pid_t> before = workers_of(master, 2);
  ASSERT_EQ(before.size(), 2u);
  int fds[2] = {client(), client()};
  std::atomic<bool> done{false};
  std::mutex mu;
  std::set<std::string> pids_seen;
  std::string failure[2];
  uint64_t answered[2] = {0, 0};
  auto run = [&](int k) {
    int fd = fds[k];
    const uint64_t window = 8;
    uint64_t sent = 0, got = 0;
    std::string buf;
    while (!done || got < sent) {
      while (!done && sent - got < window) {
        if (!send_all(fd, std::to_string(sent) + "\n")) {
          failure[k] = "send failed";
          return;
        }
        ++sent;
      }
      std::string line = recv_until(fd, "\n", 5000);
      if (line.empty() || line.back() != '\n') {
        failure[k] = "no reply to request " + std::to_string(got) + " (got '" + line + "')";
        return;
      }
      size_t sp = line.find(' ');
      if (line.substr(0, sp) != std::to_string(got)) {
        failure[k] = "reply '" + line + "' where " + std::to_string(got) + " was expected";
        return;
      }
      {
        std::lock_guard lk(mu);
        pids_seen.insert(line.substr(sp + 1, line.size() - sp - 2));
      }
      ++got;
    }
    answered[k] = got;
  };
  std::thread t0(run, 0), t1(run, 1);
  std::this_thread::sleep_for(200ms);
  kill(master, SIGUSR1);
  // Wait until both workers were replaced, then keep the load a while longer.
  bool replaced = eventually(
      [&] {
        auto now = workers_of(master, 2);
        return now.size() == 2 && std::find(now.begin(), now.end(), before[0]) == now.end() &&
               std::find(now.begin(), now.end(), before[1]) == now.end();
      },
      8000ms);
  std::this_thread::sleep_for(200ms);
  done = true;
  t0.join();
  t1.join();
  EXPECT_TRUE(replaced);
  EXPECT_EQ(failure[0], "");
  EXPECT_EQ(failure[1], "");
  EXPECT_GT(answered[0], 0u);
  EXPECT_GT(answered[1], 0u);
  EXPECT_GE(pids_seen.size(), 3u) << "the replies should come from old and new workers";
}

TEST_F(ServerFaults, MaxRequestRecyclesTheWorker) {
  start(mode::process, [](server& s) {
    s.set({{"worker_num", int64_t(1)}, {"max_request", int64_t(3)}});
    pid_echo(s);
  });
  int fd = client();
  std::vector<std::string> pids;
  for (int i = 0; i < 9; ++i) {
    pids.push_back(ask(fd, "pid\n"));
    ASSERT_FALSE(pids.back().empty()) << "request " << i;
  }
  for (int group = 0; group < 3; ++group)
    for (int i = 1; i < 3; ++i) EXPECT_EQ(pids[size_t(group * 3 + i)], pids[size_t(group * 3)]);
  EXPECT_NE(pids[0], pids[3]);
  EXPECT_NE(pids[3], pids[6]);
}

class ServerModes : public ServerFixture, public ::testing::WithParamInterface<mode> {};

TEST_P(ServerModes, ThrowingCallbackIsLoggedAndTheWorkerServesOn) {
  std::string log = dir + "/server.log";
  start(GetParam(), [log](server& s) {
    s.set({{"worker_num", int64_t(1)}, {"log_file", log}});
    s.on_receive = [](server& srv, int fd, int, std::string_view data) {
      if (data == "boom\n") throw std::runtime_error("boom from the test");
      srv.send(fd, std::to_string(getpid()) + "\n");
    };
  });
  int fd = client();
  std::string pid = ask(fd, "pid\n");
  ASSERT_TRUE(send_all(fd, "boom\n"));
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(ask(fd, "pid\n"), pid);
  EXPECT_TRUE(eventually([&] { return read_file(log).find("on_receive threw: boom from the test") != std::string::npos; }))
      << read_file(log);
}

TEST_P(ServerModes, HeartbeatClosesAnIdleConnection) {
  std::string closes = dir + "/closes";
  start(GetParam(), [closes](server& s) {
    s.set({{"worker_num", int64_t(1)}, {"heartbeat_check_interval", int64_t(1)}, {"heartbeat_idle_time", int64_t(1)}});
    s.on_receive = [](server& srv, int fd, int, std::string_view data) { srv.send(fd, data); };
    s.on_close = [closes](server&, int fd, int) { append_file(closes, "close " + std::to_string(fd) + "\n"); };
  });
  int idle = client();
  int busy = client();
  ASSERT_EQ(ask(idle, "hi\n"), "hi\n");
  int64_t t0 = now_ms();
  for (int i = 0; i < 10; ++i) {  // 2.5 s of traffic on `busy`: it stays
    ASSERT_EQ(ask(busy, "ping\n"), "ping\n") << "busy connection closed after " << now_ms() - t0 << " ms";
    std::this_thread::sleep_for(250ms);
  }
  EXPECT_TRUE(wait_eof(idle, 1000));
  EXPECT_TRUE(eventually([&] { return read_file(closes).find("close ") != std::string::npos; }));
  EXPECT_EQ(ask(busy, "ping\n"), "ping\n");
}

TEST_P(ServerModes, SigtermStopsEveryProcess) {
  std::string marks = dir + "/marks";
  pid_t master = start(GetParam(), [marks](server& s) {
    s.set({{"worker_num", int64_t(2)}});
    s.on_receive = [](server& srv, int fd, int, std::string_view data) { srv.send(fd, data); };
    s.on_worker_stop = [marks](server&, int id) { append_file(marks, "worker_stop " + std::to_string(id) + "\n"); };
    s.on_shutdown = [marks](server&) { append_file(marks, "shutdown\n"); };
  });
  int fd = client();
  ASSERT_EQ(ask(fd, "x\n"), "x\n");
  pid_t manager = manager_of(master);
  std::vector<pid_t> workers = workers_of(master, 2);
  ASSERT_GT(manager, 0);
  ASSERT_EQ(workers.size(), 2u);
  servers.clear();  // stopped here, not in TearDown
  EXPECT_EQ(stop_server(master), 0);
  EXPECT_FALSE(alive(master));
  EXPECT_FALSE(alive(manager));
  for (pid_t w : workers) EXPECT_FALSE(alive(w)) << w;
  EXPECT_TRUE(wait_eof(fd, 1000));
  std::string m = read_file(marks);
  EXPECT_NE(m.find("worker_stop 0"), std::string::npos) << m;
  EXPECT_NE(m.find("worker_stop 1"), std::string::npos) << m;
  EXPECT_NE(m.find("shutdown"), std::string::npos) << m;
}

TEST_P(ServerModes, BufferFullThenEmpty) {
  std::string marks = dir + "/marks";
  start(GetParam(), [marks](server& s) {
    s.set({{"worker_num", int64_t(1)},
           {"socket_buffer_size", int64_t(64 << 20)},
           {"buffer_high_watermark", int64_t(1 << 20)}});
    s.on_receive = [](server& srv, int fd, int, std::string_view data) {
      if (data.substr(0, 2) != "go") {  // another client: a plain echo
        srv.send(fd, data);
        return;
      }
      std::string chunk(1 << 20, 'b');
      for (int i = 0; i < 24; ++i) srv.send(fd, chunk);
    };
    s.on_buffer_full = [marks](server&, int fd) { append_file(marks, "full " + std::to_string(fd) + "\n"); };
    s.on_buffer_empty = [marks](server&, int fd) { append_file(marks, "empty " + std::to_string(fd) + "\n"); };
  });
  int fd = client();
  ASSERT_TRUE(send_all(fd, "go\n"));
  EXPECT_TRUE(eventually([&] { return read_file(marks).find("full ") != std::string::npos; }));
  EXPECT_EQ(read_file(marks).find("empty "), std::string::npos);
  // While that client does not read, another one is served at once.
  int other = client();
  ASSERT_TRUE(send_all(other, "ping\n"));
  EXPECT_EQ(recv_n(other, 5, 1000), "ping\n");
  ::close(other);
  EXPECT_EQ(recv_n(fd, size_t(24) << 20, 20000).size(), size_t(24) << 20);
  EXPECT_TRUE(eventually([&] { return read_file(marks).find("empty ") != std::string::npos; })) << read_file(marks);
}

INSTANTIATE_TEST_SUITE_P(Modes, ServerModes, ::testing::Values(mode::process, mode::base),
                         [](const ::testing::TestParamInfo<mode>& p) { return p.param == mode::process ? "Process" : "Base"; });

using ServerLifecycle = ServerFixture;

TEST_F(ServerLifecycle, PidFileWrittenRefusedAndRemoved) {
  std::string pid_file = dir + "/server.pid";
  std::string errors = dir + "/errors";
  auto setup = [pid_file](server& s) {
    s.set({{"worker_num", int64_t(1)}, {"pid_file", pid_file}});
    s.on_receive = [](server& srv, int fd, int, std::string_view data) { srv.send(fd, data); };
  };
  pid_t master = start(mode::process, setup);
  ASSERT_TRUE(eventually([&] { return read_file(pid_file) == std::to_string(master) + "\n"; }))
      << read_file(pid_file);
  // A second server with the same pid_file (on another port) refuses to start.
  pid_t second = start(mode::process, setup, free_port(), errors);
  int status = 0;
  ASSERT_EQ(waitpid(second, &status, 0), second);
  servers.pop_back();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 3);
  EXPECT_EQ(read_file(errors),
            "server already running (pid " + std::to_string(master) + ", pid_file " + pid_file + ")");
  EXPECT_EQ(read_file(pid_file), std::to_string(master) + "\n");
  servers.clear();
  EXPECT_EQ(stop_server(master), 0);
  EXPECT_NE(access(pid_file.c_str(), F_OK), 0) << "the pid file should be removed";
}

TEST_F(ServerLifecycle, PortInUseFailsAtOnce) {
  int holder = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(uint16_t(port));
  ASSERT_EQ(bind(holder, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(holder, 1), 0);
  std::string pid_file = dir + "/server.pid";
  server s("127.0.0.1", port);  // fails before forking anything: safe in the test process
  ASSERT_TRUE(s.set({{"pid_file", pid_file}}));
  EXPECT_FALSE(s.start());
  EXPECT_NE(s.error().find("Address already in use"), std::string::npos) << s.error();
  EXPECT_NE(access(pid_file.c_str(), F_OK), 0);
  close(holder);
}

TEST_F(ServerLifecycle, UnsupportedFeaturesSayso) {
  server s("127.0.0.1", port);
  EXPECT_FALSE(s.sendto("127.0.0.1", 1, "x"));
  EXPECT_EQ(s.task("x"), -1);
  EXPECT_FALSE(s.finish("x"));
  EXPECT_FALSE(s.send(1, "x"));  // not in a worker
  ASSERT_TRUE(s.set({{"task_worker_num", int64_t(1)}}));
  EXPECT_FALSE(s.start());  // task workers need on_task, as in swoole
  EXPECT_NE(s.error().find("on_task"), std::string::npos) << s.error();
}

}  // namespace
