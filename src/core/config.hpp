// The node's config loader (skynet's format): a Lua chunk run top to bottom in
// a fresh table; its globals are the settings. `$NAME` in the source text is
// replaced by the environment variable NAME first; `include "f"` runs another
// file (relative to the including file's directory) into the same table.
// Start-up only; each call uses its own lua_State.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace tern {

struct config_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

using config_entries = std::vector<std::pair<std::string, std::string>>;  // sorted by key

// Throws config_error, with "file:line:" when a line is known. Appends one line
// per unknown key to *warnings when given.
config_entries load_config(const std::string& path, std::vector<std::string>* warnings = nullptr);
config_entries load_config_string(const std::string& source, const std::string& chunkname,
                                  std::vector<std::string>* warnings = nullptr);

}  // namespace tern
