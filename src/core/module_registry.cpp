#include "core/module_registry.hpp"

#include <dlfcn.h>

#include "tern/core/service.hpp"

namespace tern {

namespace {
std::map<std::string, module_def>& builtin_table() {
  static std::map<std::string, module_def> table;
  return table;
}

template <class F>
F symbol(void* dl, const std::string& name, const char* suffix) {
  return reinterpret_cast<F>(dlsym(dl, (name + suffix).c_str()));
}
}  // namespace

void register_builtin_module(const char* name, void* (*create)(),
                             int (*init)(void*, tern_context*, const char*), void (*release)(void*),
                             void (*signal)(void*, int)) {
  builtin_table()[name] = module_def{name, create, init, release, signal, nullptr};
}

const std::map<std::string, module_def>& builtin_modules() { return builtin_table(); }

module_registry::module_registry(std::string cpath) : cpath_(std::move(cpath)) {
  for (const auto& [name, def] : builtin_modules()) add(def);
}

module_registry::~module_registry() {
  for (auto& [name, def] : modules_)
    if (def->dl) dlclose(def->dl);
}

void module_registry::add(const module_def& def) {
  std::lock_guard guard(lock_);
  modules_[def.name] = std::make_unique<module_def>(def);
}

const module_def* module_registry::find(std::string_view name, std::string* error) {
  std::lock_guard guard(lock_);
  if (auto it = modules_.find(name); it != modules_.end()) return it->second.get();
  return load_locked(std::string(name), error);
}

const module_def* module_registry::load_locked(const std::string& name, std::string* error) {
  std::string tried;
  size_t start = 0;
  while (start <= cpath_.size()) {
    size_t end = cpath_.find(';', start);
    if (end == std::string::npos) end = cpath_.size();
    std::string pattern = cpath_.substr(start, end - start);
    start = end + 1;
    if (pattern.empty()) continue;
    std::string path;
    for (char c : pattern) {
      if (c == '?')
        path += name;
      else
        path += c;
    }
    void* dl = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (!dl) {
      const char* why = dlerror();
      tried += "\n  " + path + ": " + (why ? why : "dlopen failed");
      continue;
    }
    auto def = std::make_unique<module_def>();
    def->name = name;
    def->dl = dl;
    def->create = symbol<void* (*)()>(dl, name, "_create");
    def->init = symbol<int (*)(void*, tern_context*, const char*)>(dl, name, "_init");
    def->release = symbol<void (*)(void*)>(dl, name, "_release");
    def->signal = symbol<void (*)(void*, int)>(dl, name, "_signal");
    auto version = symbol<int (*)()>(dl, name, "_abi_version");
    if (!def->init) {
      tried += "\n  " + path + ": no symbol " + name + "_init";
      dlclose(dl);
      continue;
    }
    if (version && version() != TERN_MODULE_ABI_VERSION) {
      tried += "\n  " + path + ": built for module ABI version " + std::to_string(version()) +
               ", this runtime speaks " + std::to_string(TERN_MODULE_ABI_VERSION);
      dlclose(dl);
      continue;
    }
    const module_def* out = def.get();
    modules_[name] = std::move(def);
    return out;
  }
  if (error) {
    *error = "can't find module '" + name + "'";
    *error += tried.empty() ? " (cpath is empty)" : ", searched:" + tried;
  }
  return nullptr;
}

}  // namespace tern
