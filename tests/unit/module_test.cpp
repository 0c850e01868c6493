// Modules loaded from shared libraries built by the tests (tests/modules/).
#include <gtest/gtest.h>

#include "core/node_impl.hpp"
#include "test_util.hpp"
#include "tern/core/node.hpp"

namespace tern {
namespace {

struct asker : service {
  static inline std::string* answer = nullptr;
  bool init(std::string_view) override {
    fork(run());
    return true;
  }
  task<void> run() {
    call_result r = co_await call(query(".cecho"), ptype::text, "world");
    *answer = r.ok() ? r.data : "error";
  }
};

node_options with_test_modules() {
  node_options o;
  o.threads = 0;
  o.monitor_interval_s = 0;
  o.cpath = "./nowhere/?.so;" TERN_TEST_MODULE_DIR "/?.so";
  o.logger = test::temp_dir() + "/log";
  return o;
}

TEST(Module, LoadsACModuleFromCpathAndTalksToIt) {
  node n(with_test_modules());
  n.add_service_type<asker>("asker");
  n.start();
  std::string error;
  handle_t h = n.launch("cecho", "hello ", &error);
  ASSERT_NE(h, 0u) << error;
  EXPECT_EQ(n.find_name(".cecho"), h);
  std::string answer;
  asker::answer = &answer;
  n.launch("asker", "");
  n.run_until_idle();
  EXPECT_EQ(answer, "hello world");
}

TEST(Module, InitFailureOfACModule) {
  node n(with_test_modules());
  n.start();
  std::string error;
  EXPECT_EQ(n.launch("cecho", "fail", &error), 0u);
  EXPECT_NE(error.find("init of cecho failed"), std::string::npos) << error;
}

TEST(Module, MissingModuleNamesEveryPathSearched) {
  node n(with_test_modules());
  n.start();
  std::string error;
  EXPECT_EQ(n.launch("ghost", "", &error), 0u);
  EXPECT_NE(error.find("./nowhere/ghost.so"), std::string::npos) << error;
  EXPECT_NE(error.find(TERN_TEST_MODULE_DIR "/ghost.so"), std::string::npos) << error;
}

TEST(Module, WrongAbiVersionIsRefused) {
  node n(with_test_modules());
  n.start();
  std::string error;
  EXPECT_EQ(n.launch("oldabi", "", &error), 0u);
  EXPECT_NE(error.find("ABI version"), std::string::npos) << error;
}

}  // namespace
}  // namespace tern
