// Finding and checking the program `moat do` is asked to run, with the
// errors and exit codes a shell gives (127 not found, 126 cannot execute).
#ifndef MOAT_RUNSC_CLI_EXECUTABLE_H_
#define MOAT_RUNSC_CLI_EXECUTABLE_H_

#include <string>

#include "sentry/base/unique_fd.h"

namespace moat::cli {

struct ResolvedExecutable {
  int exit_code = 0;      // 0 when usable; else 126 or 127.
  std::string error;      // Clear message when exit_code != 0.
  std::string path;       // The file found; the sandbox execs this path.
};

// Resolves `name` as execvp(3) does: names with a '/' are used as given,
// others are searched in `path_env` (PATH). Then checks the file is a
// regular, executable x86-64 ELF file or a "#!" script, so the common
// mistakes get a clear message before any sandbox starts. (The sandbox
// serves the host's root, so the same path is what it execs.)
ResolvedExecutable ResolveExecutable(const std::string& name,
                                     const std::string& path_env);

}  // namespace moat::cli

#endif  // MOAT_RUNSC_CLI_EXECUTABLE_H_
