// tern CONFIG: runs one node. Start-up order: signals, config, daemon mode,
// then the node (handles, modules, timer, logger, bootstrap, threads).
#include <fmt/format.h>

#include <cstdio>
#include <exception>

#include "core/config.hpp"
#include "core/daemon.hpp"
#include "core/node_impl.hpp"
#include "tern/core/node.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    fmt::print(stderr, "usage: {} CONFIG\n", argc > 0 ? argv[0] : "tern");
    return 1;
  }
  try {
    tern::install_signal_handlers();
    std::vector<std::string> warnings;
    auto config = tern::load_config(argv[1], &warnings);
    for (const auto& w : warnings) fmt::print(stderr, "tern: warning: {}\n", w);
    tern::node_options options = tern::options_from_config(config);
    if (!options.pid_file.empty()) tern::daemonize(options.pid_file);
    tern::node node(std::move(options));
    node.start();
    return node.wait();
  } catch (const std::exception& e) {
    fmt::print(stderr, "tern: {}\n", e.what());
    return 1;
  }
}
