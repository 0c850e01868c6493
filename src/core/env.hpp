// env: the node's key/value settings (the config, then SETENV), readable by
// every service (skynet's getenv/setenv). Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace tern {

class env {
 public:
  [[nodiscard]] std::optional<std::string> get(std::string_view key) const {
    std::lock_guard guard(lock_);
    auto it = values_.find(key);
    if (it == values_.end()) return std::nullopt;
    return it->second;
  }
  // Like skynet, a key is set once: false if it exists already.
  bool set_new(std::string_view key, std::string_view value) {
    std::lock_guard guard(lock_);
    return values_.emplace(std::string(key), std::string(value)).second;
  }
  void set(std::string_view key, std::string_view value) {
    std::lock_guard guard(lock_);
    values_[std::string(key)] = std::string(value);
  }

 private:
  mutable std::mutex lock_;
  std::map<std::string, std::string, std::less<>> values_;
};

}  // namespace tern
