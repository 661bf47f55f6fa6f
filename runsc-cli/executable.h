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
  std::string path;       // The file found (AT_EXECFN).
  UniqueFd fd;            // Opened read-only, close-on-exec.
};

// Resolves `name` as execvp(3) does: names with a '/' are used as given,
// others are searched in `path_env` (PATH). Then checks the file is a
// regular, executable, static x86-64 ELF file the sentry can load.
ResolvedExecutable ResolveExecutable(const std::string& name,
                                     const std::string& path_env);

}  // namespace moat::cli

#endif  // MOAT_RUNSC_CLI_EXECUTABLE_H_
