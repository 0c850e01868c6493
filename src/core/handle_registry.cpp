#include "core/handle_registry.hpp"

#include <mutex>

#include "core/context.hpp"

namespace tern {

handle_registry::handle_registry(uint32_t harbor)
    : harbor_((harbor & 0xff) << kHandleRemoteShift), slots_(4, nullptr) {}

tern_context* handle_registry::find_locked(handle_t h) const {
  tern_context* ctx = slots_[h & (slots_.size() - 1)];
  return ctx && ctx->handle == h ? ctx : nullptr;
}

handle_t handle_registry::insert(tern_context* ctx) {
  std::unique_lock guard(lock_);
  for (;;) {
    size_t size = slots_.size();
    for (size_t i = 0; i < size; ++i) {
      uint32_t id = (next_id_ + uint32_t(i)) & kHandleMask;
      if (id == 0) continue;  // 0 is never a handle
      tern_context*& slot = slots_[id & (size - 1)];
      if (slot) continue;  // a live service holds this id's slot (or its alias)
      slot = ctx;
      ++count_;
      next_id_ = (id + 1) & kHandleMask;
      ctx->handle = id | harbor_;
      return ctx->handle;
    }
    // Full: double the table and rehash.
    std::vector<tern_context*> bigger(size * 2, nullptr);
    for (tern_context* c : slots_) bigger[c->handle & (size * 2 - 1)] = c;
    slots_.swap(bigger);
  }
}

tern_context* handle_registry::retire(handle_t h) {
  std::unique_lock guard(lock_);
  tern_context* ctx = find_locked(h);
  if (!ctx) return nullptr;
  slots_[h & (slots_.size() - 1)] = nullptr;
  --count_;
  if (!names_.empty()) std::erase_if(names_, [h](const auto& kv) { return kv.second == h; });
  return ctx;
}

std::vector<handle_t> handle_registry::handles() const {
  std::shared_lock guard(lock_);
  std::vector<handle_t> out;
  out.reserve(count_);
  for (tern_context* c : slots_)
    if (c) out.push_back(c->handle);
  return out;
}

size_t handle_registry::size() const {
  std::shared_lock guard(lock_);
  return count_;
}

bool handle_registry::bind_name(std::string_view name, handle_t h) {
  std::unique_lock guard(lock_);
  if (!find_locked(h)) return false;
  return names_.emplace(std::string(name), h).second;
}

handle_t handle_registry::find_name(std::string_view name) const {
  std::shared_lock guard(lock_);
  auto it = names_.find(std::string(name));
  return it == names_.end() ? 0 : it->second;
}

}  // namespace tern
