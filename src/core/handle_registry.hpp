// handle_registry: handle -> service and .name -> handle.
//
// Threading: every method is thread-safe (one reader/writer spinlock). Lookups
// take the read side, so sends from many workers do not serialise.
//
// Handles: the low 24 bits come from a counter that only moves forward, so an
// id is not reused until the 24-bit space wraps; after a wrap, ids still alive
// are skipped (their slot is taken). The slot table has a power-of-two size,
// is indexed by handle & (size - 1) and doubles when full.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/rw_spinlock.hpp"
#include "tern/core/types.hpp"

struct tern_context;

namespace tern {

class handle_registry {
 public:
  explicit handle_registry(uint32_t harbor);

  // Gives ctx a handle (stored in ctx->handle) and returns it.
  handle_t insert(tern_context* ctx);

  // Runs f(ctx) under the read lock; false if h is unknown. The service cannot
  // be retired while f runs.
  template <class F>
  bool with(handle_t h, F&& f) const {
    std::shared_lock guard(lock_);
    tern_context* ctx = find_locked(h);
    if (!ctx) return false;
    f(ctx);
    return true;
  }

  // Removes h and the names bound to it. Returns the context (the caller
  // drops the registry's reference) or nullptr if h was not registered.
  tern_context* retire(handle_t h);

  [[nodiscard]] std::vector<handle_t> handles() const;
  [[nodiscard]] size_t size() const;

  // Names. bind fails (false) if the name is taken or h is unknown.
  bool bind_name(std::string_view name, handle_t h);
  [[nodiscard]] handle_t find_name(std::string_view name) const;

  [[nodiscard]] uint32_t harbor() const { return harbor_; }

 private:
  tern_context* find_locked(handle_t h) const;

  mutable rw_spinlock lock_;
  uint32_t harbor_;
  uint32_t next_id_ = 1;
  size_t count_ = 0;
  std::vector<tern_context*> slots_;
  std::unordered_map<std::string, handle_t> names_;
};

}  // namespace tern
