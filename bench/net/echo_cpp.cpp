// echo_cpp: the C++ side of `make bench SUITE=net` (net.echo_cpp). Listens on
// "host port" (its launch arguments), accepts everyone, and writes every DATA
// buffer straight back: the socket thread's read buffer becomes the write
// buffer, so an echoed byte is never copied by the service.
#include <fmt/format.h>

#include <charconv>
#include <string>

#include "tern/core/service.hpp"
#include "tern/module_socket.h"

class echo_cpp : public tern::service {
  bool init(std::string_view args) override {
    auto space = args.find(' ');
    std::string host(args.substr(0, space));
    int port = 0;
    if (space != std::string_view::npos) {
      auto rest = args.substr(space + 1);
      std::from_chars(rest.data(), rest.data() + rest.size(), port);
    }
    int id = tern_socket_listen(context(), host.c_str(), port, 1024);
    if (id < 0) return false;  // the reason is logged
    tern_socket_start(context(), id);
    log(fmt::format("echo_cpp listening on {}:{}", host, port));
    return true;
  }

  void on_message(const tern::message& m) override {
    if (m.type != tern::ptype::socket) return;
    const auto* sm = static_cast<const tern_socket_message*>(m.data());
    switch (sm->type) {
      case TERN_SOCKET_TYPE_ACCEPT:
        tern_socket_nodelay(context(), sm->ud);
        tern_socket_start(context(), sm->ud);
        break;
      case TERN_SOCKET_TYPE_DATA:
        tern_socket_send(context(), sm->id, sm->buffer, size_t(sm->ud));  // hands the buffer on
        break;
      default:
        break;
    }
  }
};

TERN_MODULE(echo_cpp, echo_cpp)
