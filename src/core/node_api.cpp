// tern::node, the public face of node_impl, and config -> node_options.
#include <fmt/format.h>

#include <charconv>

#include "core/node_impl.hpp"

namespace tern {

node::node(node_options options) : impl_(std::make_unique<node_impl>(std::move(options))) {}
node::~node() = default;

void node::start() { impl_->start(); }
int node::wait() { return impl_->wait(); }
void node::stop() { impl_->stop(); }

handle_t node::launch(std::string_view module, std::string_view args, std::string* error) {
  return impl_->launch(nullptr, module, args, error);
}

int node::send(handle_t source, handle_t destination, int type, int session, std::string_view data) {
  return impl_->send(nullptr, source, destination, type, session, const_cast<char*>(data.data()),
                     data.size());
}

bool node::kill(handle_t h) { return impl_->retire(h); }
size_t node::service_count() const { return impl_->live_services(); }
handle_t node::find_name(std::string_view name) const { return impl_->resolve(name); }
std::optional<std::string> node::getenv(std::string_view key) const {
  return impl_->environment().get(key);
}
uint64_t node::now() const { return impl_->now(); }

bool node::run_one() { return impl_->run_one(); }
size_t node::run_until_idle(size_t max_messages) {
  size_t n = 0;
  while (n < max_messages && impl_->run_one()) ++n;
  return n;
}
void node::advance_time(uint32_t cs) { impl_->advance_time(cs); }

void node::add_module(const std::string& name, void* (*create)(), void (*release)(void*)) {
  module_def def;
  def.name = name;
  def.create = create;
  def.init = [](void* inst, tern_context* ctx, const char* args) {
    return service_access::init(static_cast<service*>(inst), ctx, args);
  };
  def.release = release;
  def.signal = [](void* inst, int sig) { service_access::signal(static_cast<service*>(inst), sig); };
  impl_->modules().add(def);
}

namespace {
int to_int(const std::string& key, const std::string& value) {
  int out = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (ec != std::errc() || end != value.data() + value.size())
    throw std::runtime_error(fmt::format("config: {} must be an integer, got '{}'", key, value));
  return out;
}
}  // namespace

node_options options_from_config(const std::vector<std::pair<std::string, std::string>>& config) {
  node_options o;
  o.bootstrap = "snlua bootstrap";  // skynet's default
  for (const auto& [key, value] : config) {
    if (key == "thread") {
      o.threads = to_int(key, value);
      if (o.threads < 1) throw std::runtime_error("config: thread must be at least 1");
    } else if (key == "harbor") {
      int h = to_int(key, value);
      if (h < 0 || h > 255) throw std::runtime_error("config: harbor must be in 0..255");
      o.harbor = uint32_t(h);
    } else if (key == "cpath") {
      o.cpath = value;
    } else if (key == "logger") {
      o.logger = value;
    } else if (key == "logservice") {
      o.logservice = value;
    } else if (key == "logpath") {
      o.logpath = value;
    } else if (key == "bootstrap") {
      o.bootstrap = value;
    } else if (key == "daemon") {
      o.pid_file = value;
    } else if (key == "monitor_interval_s") {
      o.monitor_interval_s = to_int(key, value);
    } else if (key == "profile") {
      o.profile = value != "false" && value != "0";
    } else if (key == "worker_weights") {
      size_t start = 0;
      while (start < value.size()) {
        size_t comma = value.find(',', start);
        if (comma == std::string::npos) comma = value.size();
        o.worker_weights.push_back(to_int(key, value.substr(start, comma - start)));
        start = comma + 1;
      }
    }
  }
  o.env = config;
  return o;
}

}  // namespace tern
