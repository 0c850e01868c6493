// Service behaviour on a node in deterministic mode (threads = 0): the test
// delivers every message itself, one at a time.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "core/context.hpp"
#include "core/node_impl.hpp"
#include "test_util.hpp"
#include "tern/core/node.hpp"

namespace tern {
namespace {

struct recorder : service {
  static inline std::vector<std::string>* seen = nullptr;
  void on_message(const message& m) override {
    seen->push_back(std::to_string(m.type) + ":" + std::string(m.view()));
  }
};

struct echo : service {
  void on_message(const message& m) override { reply(m, m.view()); }
};

struct silent : service {  // takes requests and never answers
  void on_message(const message&) override {}
};

struct failing_init : service {
  bool init(std::string_view) override { throw std::runtime_error("no database configured"); }
};

struct thrower : service {
  int handled = 0;
  static inline int* count = nullptr;
  void on_message(const message& m) override {
    ++*count;
    if (m.view() == "boom") throw std::runtime_error("boom in handler");
  }
};

// Calls the handle in its args and records what came back.
struct caller : service {
  static inline std::vector<std::string>* results = nullptr;
  bool init(std::string_view args) override {
    target_ = handle_t(std::stoul(std::string(args), nullptr, 16));
    fork(run());
    return true;
  }
  task<void> run() {
    call_result r = co_await call(target_, ptype::text, "ping");
    results->push_back((r.ok() ? "ok:" : "error:") + r.data);
  }
  handle_t target_ = 0;
};

node_options deterministic(const std::string& log_file) {
  node_options o;
  o.threads = 0;
  o.logger = log_file;
  o.monitor_interval_s = 0;
  return o;
}

class NodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::temp_dir();
    log_ = dir_ + "/node.log";
    node_ = std::make_unique<node>(deterministic(log_));
    node_->add_service_type<recorder>("recorder");
    node_->add_service_type<echo>("echo");
    node_->add_service_type<silent>("silent");
    node_->add_service_type<failing_init>("failing_init");
    node_->add_service_type<thrower>("thrower");
    node_->add_service_type<caller>("caller");
    recorder::seen = &seen_;
    caller::results = &results_;
    thrower::count = &thrown_;
    node_->start();
  }
  void TearDown() override { node_.reset(); }
  std::string log_text() {
    node_->run_until_idle();
    return test::read_file(log_);
  }

  std::string dir_, log_;
  std::unique_ptr<node> node_;
  std::vector<std::string> seen_, results_;
  int thrown_ = 0;
};

TEST_F(NodeTest, MessagesArriveInOrderWithTheirType) {
  handle_t r = node_->launch("recorder", "");
  ASSERT_NE(r, 0u);
  node_->send(0, r, ptype::text, 0, "a");
  node_->send(0, r, ptype::lua, 0, "a longer payload that is not inline");
  node_->send(0, r, ptype::text, 0, "c");
  node_->run_until_idle();
  ASSERT_EQ(seen_.size(), 3u);
  EXPECT_EQ(seen_[0], "0:a");
  EXPECT_EQ(seen_[1], "10:a longer payload that is not inline");
  EXPECT_EQ(seen_[2], "0:c");
}

TEST_F(NodeTest, CallGetsTheReply) {
  handle_t e = node_->launch("echo", "");
  node_->launch("caller", fmt::format("{:x}", e));
  node_->run_until_idle();
  ASSERT_EQ(results_.size(), 1u);
  EXPECT_EQ(results_[0], "ok:ping");
}

TEST_F(NodeTest, CallToUnknownAddressFailsAtOnce) {
  node_->launch("caller", "1abcdef");
  ASSERT_EQ(results_.size(), 1u);  // failed inside init, no delivery needed
  EXPECT_EQ(results_[0].substr(0, 6), "error:");
  EXPECT_NE(log_text().find("unknown :01abcdef"), std::string::npos);
}

TEST_F(NodeTest, CallerGetsAnErrorWhenTheCalleeExitsWithoutAnswering) {
  handle_t s = node_->launch("silent", "");
  node_->launch("caller", fmt::format("{:x}", s));
  node_->run_until_idle();
  EXPECT_TRUE(results_.empty());  // the request was taken and not answered
  node_->kill(s);
  node_->run_until_idle();
  ASSERT_EQ(results_.size(), 1u);
  EXPECT_EQ(results_[0], "error:");
}

TEST_F(NodeTest, QueuedRequestsToAKilledServiceGetErrors) {
  handle_t s = node_->launch("silent", "");
  node_->launch("caller", fmt::format("{:x}", s));
  node_->launch("caller", fmt::format("{:x}", s));
  node_->kill(s);  // both requests still in its mailbox
  node_->run_until_idle();
  ASSERT_EQ(results_.size(), 2u);
  EXPECT_EQ(results_[0], "error:");
  EXPECT_EQ(results_[1], "error:");
}

TEST_F(NodeTest, InitFailureIsReportedToTheLauncherAndReleased) {
  size_t before = node_->service_count();
  std::string why;
  EXPECT_EQ(node_->launch("failing_init", "", &why), 0u);
  EXPECT_NE(why.find("no database configured"), std::string::npos);
  EXPECT_EQ(node_->service_count(), before);
}

TEST_F(NodeTest, MissingModuleNamesThePathsSearched) {
  std::string why;
  EXPECT_EQ(node_->launch("no_such_module", "", &why), 0u);
  EXPECT_NE(why.find("./cservice/no_such_module.so"), std::string::npos) << why;
}

TEST_F(NodeTest, ExceptionInHandlerIsLoggedAndTheServiceLivesOn) {
  handle_t t = node_->launch("thrower", "");
  node_->send(0, t, ptype::text, 0, "boom");
  node_->send(0, t, ptype::text, 0, "fine");
  node_->run_until_idle();
  EXPECT_EQ(thrown_, 2);
  std::string text = log_text();
  EXPECT_NE(text.find(fmt::format("[:{:08x}] exception in message handler", t)), std::string::npos)
      << text;
}

TEST_F(NodeTest, MessageToDeadHandleIsLoggedAndFreed) {
  handle_t r = node_->launch("recorder", "");
  node_->kill(r);
  std::string big(100, 'x');  // heap payload: ASan reports it if it leaks
  EXPECT_EQ(node_->send(0, r, ptype::text, 0, big), -1);
  EXPECT_NE(log_text().find("drop message"), std::string::npos);
}

struct sleeper : service {
  static inline std::vector<std::string>* out = nullptr;
  bool init(std::string_view) override {
    for (int cs : {30, 10, 20, 10}) fork(wait(cs));
    return true;
  }
  task<void> wait(int cs) {
    co_await sleep(cs);
    out->push_back(std::to_string(cs) + "@" + std::to_string(now()));
  }
};

TEST_F(NodeTest, TimersFireInOrderAtTheirTick) {
  std::vector<std::string> out;
  sleeper::out = &out;
  node_->add_service_type<sleeper>("sleeper");
  node_->launch("sleeper", "");
  for (int cs = 0; cs < 30; ++cs) {
    node_->run_until_idle();
    if (cs < 10) {
      EXPECT_TRUE(out.empty());
    }
    node_->advance_time(1);
  }
  node_->run_until_idle();
  EXPECT_EQ(out, (std::vector<std::string>{"10@10", "10@10", "20@20", "30@30"}));
}

TEST_F(NodeTest, CommandsByString) {
  auto& impl = node_->impl();
  handle_t r = node_->launch("recorder", "");
  tern_context* ctx = nullptr;
  impl.registry().with(r, [&](tern_context* c) { ctx = c; });
  ASSERT_NE(ctx, nullptr);
  EXPECT_EQ(std::string(impl.command(ctx, "REG", "")), fmt::format(":{:08x}", r));
  EXPECT_NE(impl.command(ctx, "REG", ".rec"), nullptr);
  EXPECT_EQ(std::string(impl.command(ctx, "QUERY", ".rec")), fmt::format(":{:08x}", r));
  EXPECT_EQ(impl.command(ctx, "QUERY", ".nobody"), nullptr);
  EXPECT_NE(impl.command(ctx, "NAME", fmt::format(".other :{:08x}", r).c_str()), nullptr);
  EXPECT_EQ(node_->find_name(".other"), r);
  EXPECT_EQ(impl.command(ctx, "GETENV", "tern_test_key"), nullptr);
  impl.command(ctx, "SETENV", "tern_test_key hello world");
  EXPECT_EQ(std::string(impl.command(ctx, "GETENV", "tern_test_key")), "hello world");
  EXPECT_EQ(std::string(impl.command(ctx, "STAT", "mqlen")), "0");
  EXPECT_EQ(std::string(impl.command(ctx, "STAT", "endless")), "0");
  EXPECT_GT(std::stoul(impl.command(ctx, "STARTTIME", "")), 1600000000u);
  const char* session = impl.command(ctx, "TIMEOUT", "0");
  ASSERT_NE(session, nullptr);
  node_->run_until_idle();
  ASSERT_FALSE(seen_.empty());
  EXPECT_EQ(seen_.back(), "1:");  // the timeout's response message
  EXPECT_EQ(std::string(impl.command(ctx, "STAT", "message")), "1");
  handle_t launched = impl.resolve(impl.command(ctx, "LAUNCH", "echo x"));
  EXPECT_NE(launched, 0u);
  impl.command(ctx, "KILL", fmt::format(":{:08x}", launched).c_str());
  EXPECT_EQ(node_->find_name(fmt::format(":{:08x}", launched)), launched);  // parse only
}

TEST_F(NodeTest, MonitorExitTellsAWatcherWhenAServiceExits) {
  handle_t watcher = node_->launch("recorder", "");
  handle_t e = node_->launch("echo", "");
  node_->impl().set_monitor_exit(watcher);
  node_->kill(e);
  node_->run_until_idle();
  ASSERT_EQ(seen_.size(), 1u);
  EXPECT_EQ(seen_[0], "3:");  // PTYPE_CLIENT from the exiting service
}

TEST_F(NodeTest, LogOnWritesEachMessageToAFilePerService) {
  node_options o = deterministic(log_);
  o.logpath = dir_;
  node n(o);
  n.add_service_type<recorder>("recorder");
  n.start();
  handle_t r = n.launch("recorder", "");
  n.impl().log_on(r);
  n.send(0, r, ptype::text, 7, "hi");
  n.run_until_idle();
  n.impl().log_off(r);
  std::string text = test::read_file(fmt::format("{}/{:08x}.log", dir_, r));
  EXPECT_NE(text.find(":00000000 0 7 0 6869"), std::string::npos) << text;
}

struct self_exiting : service {
  bool init(std::string_view) override {
    send(self(), ptype::text, "queued during init");
    exit();
    return true;
  }
};

TEST_F(NodeTest, AServiceThatExitsDuringInitIsReleasedCleanly) {
  node_->add_service_type<self_exiting>("self_exiting");
  size_t before = node_->service_count();
  EXPECT_NE(node_->launch("self_exiting", ""), 0u);
  node_->run_until_idle();
  EXPECT_EQ(node_->service_count(), before);
}

TEST_F(NodeTest, AnOverloadedQueueIsReported) {
  handle_t r = node_->launch("recorder", "");
  node_->run_until_idle();
  for (int i = 0; i < 1100; ++i) node_->send(0, r, ptype::text, 0, "x");
  node_->run_until_idle();
  EXPECT_EQ(seen_.size(), 1100u);
  EXPECT_NE(log_text().find(fmt::format("[:{:08x}] may overload, message queue length = 1100", r)),
            std::string::npos);
}

struct typed_commands : service {
  static inline std::vector<std::string>* out = nullptr;
  void on_message(const message& m) override {
    if (m.view() != "go") return;
    out->push_back(setenv("typed_key", "v1") ? "set" : "refused");
    out->push_back(setenv("typed_key", "v2") ? "set" : "refused");
    out->push_back(*getenv("typed_key"));
    out->push_back(starttime() > 1600000000u ? "starttime ok" : "starttime bad");
    uint64_t t0 = hpc();
    out->push_back(hpc() >= t0 && t0 > 0 ? "hpc ok" : "hpc bad");
    stats s = stat();
    out->push_back("mqlen=" + std::to_string(s.mqlen) + " messages=" + std::to_string(s.messages));
    monitor_exits(self());
    out->push_back(signal(self(), 5) ? "signaled" : "no signal");
  }
  void on_signal(int sig) override { out->push_back("on_signal " + std::to_string(sig)); }
};

TEST_F(NodeTest, TypedCommandsFromAService) {
  std::vector<std::string> out;
  typed_commands::out = &out;
  node_->add_service_type<typed_commands>("typed_commands");
  handle_t h = node_->launch("typed_commands", "");
  node_->send(0, h, ptype::text, 0, "x");
  node_->send(0, h, ptype::text, 0, "go");
  node_->run_until_idle();
  EXPECT_EQ(out, (std::vector<std::string>{"set", "refused", "v1", "starttime ok", "hpc ok",
                                           "mqlen=0 messages=1", "on_signal 5", "signaled"}));
  EXPECT_EQ(node_->impl().monitor_exit(), h);
}

TEST_F(NodeTest, SessionsWrapWithoutZero) {
  tern_context c;
  c.session_id = INT32_MAX - 1;
  EXPECT_EQ(c.new_session(), INT32_MAX);
  EXPECT_EQ(c.new_session(), 1);
}

TEST_F(NodeTest, NodeStopsWhenTheLastServiceExits) {
  handle_t e = node_->launch("echo", "");
  node_->kill(e);
  node_->run_until_idle();  // its last reference goes with its last turn
  EXPECT_EQ(node_->service_count(), 1u);  // only the logger
  EXPECT_EQ(node_->wait(), 0);            // returns: the node has stopped
  EXPECT_EQ(node_->service_count(), 0u);
}

}  // namespace
}  // namespace tern
