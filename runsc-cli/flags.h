// Command-line parsing in the style of runc and runsc (Go's flag package):
// `-flag`, `--flag`, `--flag=value` and `--flag value` all work; global
// flags come before the subcommand; parsing stops at the first non-flag
// argument or at `--`. Flags runc accepts that Moat ignores are accepted.
#ifndef MOAT_RUNSC_CLI_FLAGS_H_
#define MOAT_RUNSC_CLI_FLAGS_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace moat::cli {

struct FlagSpec {
  const char* name;
  bool takes_value;  // false: a boolean (`--x`, `--x=true|false`).
  const char* help;
};

// Parsed flags: name -> value ("true"/"false" for booleans).
struct ParsedFlags {
  absl::flat_hash_map<std::string, std::string> values;
  // The arguments after the flags (the subcommand and what follows).
  std::vector<std::string> rest;

  bool Bool(const std::string& name) const;
  std::string String(const std::string& name, std::string fallback = "") const;
};

// Parses `args` against `specs`. Unknown flags are an error naming the flag
// (as Go's flag package: "flag provided but not defined: -x").
absl::StatusOr<ParsedFlags> ParseFlags(absl::Span<const std::string> args,
                                       absl::Span<const FlagSpec> specs);

// The global flags every subcommand accepts (before the subcommand).
absl::Span<const FlagSpec> GlobalFlagSpecs();

// One line per flag, for help output.
std::string FlagHelp(absl::Span<const FlagSpec> specs);

}  // namespace moat::cli

#endif  // MOAT_RUNSC_CLI_FLAGS_H_
