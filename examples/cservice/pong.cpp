// pong: answers every request with the same bytes, and counts them.
#include <fmt/format.h>

#include "tern/core/service.hpp"

class pong : public tern::service {
  bool init(std::string_view args) override {
    name(".pong");
    log(fmt::format("pong ready (args: '{}')", args));
    return true;
  }
  void on_message(const tern::message& m) override {
    if (m.session > 0) reply(m, m.view());
    ++answered_;
  }
  uint64_t answered_ = 0;
};

TERN_MODULE(pong, pong)
