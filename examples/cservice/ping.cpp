// ping: the example node's main service. It launches pong, then once per
// `interval` centiseconds (args, default 100) sends it a request with a C++20
// coroutine call and logs the answer and the round-trip time.
#include <fmt/format.h>

#include <chrono>
#include <stdexcept>
#include <string>

#include "tern/core/service.hpp"

class ping : public tern::service {
  bool init(std::string_view args) override {
    interval_ = args.empty() ? 100 : std::stoi(std::string(args));
    std::string error;
    pong_ = launch("pong", "example", &error);
    if (!pong_) throw std::runtime_error("can't launch pong: " + error);
    log(fmt::format("ping started, pong is :{:08x}; one request every {} cs", pong_, interval_));
    fork(loop());
    return true;
  }

  tern::task<void> loop() {
    for (int round = 1;; ++round) {
      auto t0 = std::chrono::steady_clock::now();
      tern::call_result r = co_await call(pong_, tern::ptype::text, fmt::format("hello #{}", round));
      auto us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
      if (!r.ok()) {
        log("pong is gone; ping exits");
        exit();
        co_return;
      }
      log(fmt::format("round {}: pong answered '{}' in {:.1f} us (now = {} cs)", round, r.data, us, now()));
      co_await sleep(interval_);
    }
  }

  tern::handle_t pong_ = 0;
  int interval_ = 100;
};

TERN_MODULE(ping, ping)
