// Daemon mode (config `daemon = "tern.pid"`): detach from the terminal, keep
// the working directory (relative paths in the config stay valid), write and
// lock the pid file, send stdio to /dev/null. Start-up only (main thread).
#pragma once

#include <string>

namespace tern {

// Throws std::runtime_error when the pid file names a live process or cannot be written.
void daemonize(const std::string& pid_file);

}  // namespace tern
