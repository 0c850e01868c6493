// Integration-test module. "itest_pingpong N": launches a partner in pong mode,
// makes N calls to it one after another, logs the result and exits with it.
// "itest_pingpong pong": answers every request. "itest_pingpong forever":
// stays alive (for signal and daemon tests), logging once a second.
#include <stdexcept>
#include <string>

#include "tern/core/service.hpp"

class itest_pingpong : public tern::service {
  bool init(std::string_view args) override {
    if (args == "pong") return true;
    if (args == "forever") {
      fork(tick());
      return true;
    }
    rounds_ = std::stoi(std::string(args));
    std::string error;
    peer_ = launch("itest_pingpong", "pong", &error);
    if (!peer_) throw std::runtime_error(error);
    fork(run());
    return true;
  }

  void on_message(const tern::message& m) override {
    if (m.session > 0) reply(m, m.view());
  }

  tern::task<void> run() {
    int ok = 0;
    for (int i = 0; i < rounds_; ++i) {
      auto r = co_await call(peer_, tern::ptype::text, "ping");
      if (r.ok() && r.data == "ping") ++ok;
    }
    log("pingpong done " + std::to_string(ok) + " round trips");
    kill(peer_);
    exit();
  }

  tern::task<void> tick() {
    for (int i = 0;; ++i) {
      log("tick " + std::to_string(i));
      co_await sleep(20);
    }
  }

  int rounds_ = 0;
  tern::handle_t peer_ = 0;
};

TERN_MODULE(itest_pingpong, itest_pingpong)
