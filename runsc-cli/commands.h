// The subcommands of `moat`. Each returns the process exit status.
#ifndef MOAT_RUNSC_CLI_COMMANDS_H_
#define MOAT_RUNSC_CLI_COMMANDS_H_

#include <string>
#include <vector>

#include "runsc-cli/flags.h"

namespace moat::cli {

int RunDo(const ParsedFlags& global, const std::vector<std::string>& args);
int RunHelp(const std::vector<std::string>& args);
// Internal: `moat boot --spec-fd=N --exe-fd=M` (the sentry).
int RunBootCommand(const std::vector<std::string>& args);

}  // namespace moat::cli

#endif  // MOAT_RUNSC_CLI_COMMANDS_H_
