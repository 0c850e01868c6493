// The node's config loader (skynet's format): a Lua chunk run top to bottom
// with one fresh table as its _ENV; the globals it assigns are the settings.
// `$NAME` in the source text is replaced by the environment variable NAME
// before the chunk runs; `include "f"` runs another file (relative to the
// including file's directory) into the same table. Start-up only: each call
// uses its own lua_State.
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

// Loads and runs the config file (path as given, relative to the working
// directory). Throws config_error, whose message starts with "file:line:" when
// a line is known and names the file otherwise. Appends one line per unknown
// key to *warnings when non-null.
config_entries load_config(const std::string& path, std::vector<std::string>* warnings = nullptr);

// Same, from a string: chunkname stands in for the file name in messages, and
// `include` resolves relative to its directory.
config_entries load_config_string(const std::string& source, const std::string& chunkname,
                                  std::vector<std::string>* warnings = nullptr);

}  // namespace tern
