// module_registry: service modules by name, built in or loaded with dlopen from
// the cpath patterns ("./cservice/?.so;..."), each loaded once.
//
// Threading: find() is thread-safe (a mutex; only launch calls it).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "tern/module_abi.h"

namespace tern {

struct module_def {
  std::string name;
  void* (*create)() = nullptr;
  int (*init)(void*, tern_context*, const char*) = nullptr;
  void (*release)(void*) = nullptr;
  void (*signal)(void*, int) = nullptr;
  void* dl = nullptr;  // dlopen handle, closed with the registry
};

class module_registry {
 public:
  explicit module_registry(std::string cpath);
  ~module_registry();
  module_registry(const module_registry&) = delete;
  module_registry& operator=(const module_registry&) = delete;

  void add(const module_def& def);
  // Returns the module, loading it if needed; on failure nullptr and *error
  // names every path searched and why each failed.
  const module_def* find(std::string_view name, std::string* error);

 private:
  const module_def* load_locked(const std::string& name, std::string* error);

  std::mutex lock_;
  std::string cpath_;
  std::map<std::string, std::unique_ptr<module_def>, std::less<>> modules_;
};

// Modules compiled into the program (TERN_REGISTER_SERVICE); every node starts with them.
const std::map<std::string, module_def>& builtin_modules();

}  // namespace tern
