// tern::server timers (tick / after / clear_timer) in workers of both modes
// and in a task worker: a tick repeats until cleared, an after runs once, a
// cleared timer never runs, a timer set in on_receive answers the client
// later. Each test forks a server and cleans up every process it made.
#include "server_test_util.hpp"

using namespace server_test;

namespace {

std::string mode_name(const ::testing::TestParamInfo<mode>& p) { return p.param == mode::process ? "Process" : "Base"; }

int count_lines(const std::string& text, const std::string& line) {
  int n = 0;
  for (size_t at = 0; (at = text.find(line + "\n", at)) != std::string::npos; at += line.size() + 1) ++n;
  return n;
}

class ServerTimers : public ServerFixture, public ::testing::WithParamInterface<mode> {};

TEST_P(ServerTimers, TickRepeatsAfterRunsOnceClearStops) {
  std::string d = dir;
  start(GetParam(), [d](server& s) {
    s.set({{"worker_num", int64_t(1)}, {"task_worker_num", int64_t(1)}, {"log_level", int64_t(4)}});
    s.on_task = [](server&, int, int, std::string_view) { return std::optional<std::string>(); };
    s.on_worker_start = [d](server& srv, int) {
      const std::string who = srv.is_task_worker() ? "task" : "worker";
      auto count = std::make_shared<int>(0);
      int tick = srv.tick(40, [d, who, count](server& s2, int id) {
        append_file(d + "/" + who, "tick\n");
        if (++*count == 5) {
          append_file(d + "/" + who, s2.clear_timer(id) ? "tick cleared\n" : "clear failed\n");
          append_file(d + "/" + who, s2.clear_timer(id) ? "cleared twice\n" : "gone\n");
        }
      });
      int once = srv.after(60, [d, who, tick](server&, int id) {
        append_file(d + "/" + who, "after " + std::to_string(id > 0 && id != tick) + "\n");
      });
      int doomed = srv.after(30, [d, who](server&, int) { append_file(d + "/" + who, "doomed ran\n"); });
      append_file(d + "/" + who, srv.clear_timer(doomed) && once > 0 ? "doomed cleared\n" : "clear failed\n");
    };
    s.on_receive = [](server& srv, int fd, int, std::string_view data) { srv.send(fd, data); };
  });
  for (const char* who : {"worker", "task"}) {
    std::string path = dir + "/" + who;
    ASSERT_TRUE(eventually([&] { return read_file(path).find("gone\n") != std::string::npos; })) << who << ": "
                                                                                               << read_file(path);
    std::this_thread::sleep_for(250ms);  // a cleared tick stays quiet
    std::string log = read_file(path);
    EXPECT_EQ(count_lines(log, "tick"), 5) << who << ": " << log;
    EXPECT_EQ(count_lines(log, "tick cleared"), 1) << log;
    EXPECT_EQ(count_lines(log, "after 1"), 1) << log;
    EXPECT_EQ(count_lines(log, "doomed cleared"), 1) << log;
    EXPECT_EQ(log.find("doomed ran"), std::string::npos) << log;
    EXPECT_EQ(log.find("failed"), std::string::npos) << log;
  }
}

TEST_P(ServerTimers, AfterSetInOnReceiveAnswersLater) {
  start(GetParam(), [](server& s) {
    s.set({{"worker_num", int64_t(2)}, {"log_level", int64_t(4)}});
    s.on_receive = [](server& srv, int fd, int, std::string_view data) {
      std::string text(data);
      srv.send(fd, "now " + text + "\n");
      srv.after(150, [fd, text](server& s2, int) { s2.send(fd, "later " + text + "\n"); });
    };
  });
  int fd = client();
  ASSERT_GE(fd, 0);
  int64_t t0 = now_ms();
  EXPECT_EQ(ask(fd, "x"), "now x\n");
  EXPECT_EQ(recv_until(fd, "\n", 3000), "later x\n");
  int64_t took = now_ms() - t0;
  EXPECT_GE(took, 140);
  EXPECT_LE(took, 1500);
}

TEST(ServerTimersOutside, TimersNeedAWorker) {
  server s("127.0.0.1", 0);
  EXPECT_EQ(s.tick(10, [](server&, int) {}), -1);
  EXPECT_NE(s.error().find("tick"), std::string::npos);
  EXPECT_EQ(s.after(10, [](server&, int) {}), -1);
  EXPECT_FALSE(s.clear_timer(1));
}

INSTANTIATE_TEST_SUITE_P(Modes, ServerTimers, ::testing::Values(mode::process, mode::base), mode_name);

}  // namespace
