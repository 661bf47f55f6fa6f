#include "runsc-cli/flags.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace moat::cli {
namespace {

constexpr FlagSpec kGlobalFlags[] = {
    {"platform", true, "platform to run applications on (ptrace)"},
    {"network", true, "network mode: none, host, sandbox"},
    {"debug", false, "enable debug logging"},
    {"debug-log", true, "directory for debug logs (one file per process)"},
    {"strace", false, "log every application syscall, strace style"},
    {"root", true, "state directory for containers (default /run/moat)"},
    {"log", true, "file for runtime logs and errors"},
    {"log-format", true, "format of --log: text or json"},
    // Accepted for runc compatibility; Moat ignores them.
    {"systemd-cgroup", false, "ignored (runc compatibility)"},
    {"rootless", true, "ignored (runc compatibility)"},
    {"criu", true, "ignored (runc compatibility)"},
};

const FlagSpec* Find(absl::Span<const FlagSpec> specs, absl::string_view name) {
  for (const FlagSpec& s : specs) {
    if (name == s.name) return &s;
  }
  return nullptr;
}

}  // namespace

bool ParsedFlags::Bool(const std::string& name) const {
  auto it = values.find(name);
  return it != values.end() && it->second == "true";
}

std::string ParsedFlags::String(const std::string& name,
                                std::string fallback) const {
  auto it = values.find(name);
  return it == values.end() ? fallback : it->second;
}

absl::StatusOr<ParsedFlags> ParseFlags(absl::Span<const std::string> args,
                                       absl::Span<const FlagSpec> specs) {
  ParsedFlags out;
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (arg.size() < 2 || arg[0] != '-' || arg == "-") break;
    absl::string_view body = arg;
    body.remove_prefix(absl::StartsWith(body, "--") ? 2 : 1);
    std::string name(body), value;
    bool has_value = false;
    if (size_t eq = body.find('='); eq != absl::string_view::npos) {
      name = std::string(body.substr(0, eq));
      value = std::string(body.substr(eq + 1));
      has_value = true;
    }
    const FlagSpec* spec = Find(specs, name);
    if (spec == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("flag provided but not defined: -", name));
    }
    if (spec->takes_value) {
      if (!has_value) {
        if (i + 1 >= args.size()) {
          return absl::InvalidArgumentError(
              absl::StrCat("flag needs an argument: -", name));
        }
        value = args[++i];
      }
    } else if (has_value) {
      if (value == "1" || value == "t" || value == "T" || value == "TRUE" ||
          value == "True") {
        value = "true";
      } else if (value == "0" || value == "f" || value == "F" ||
                 value == "FALSE" || value == "False") {
        value = "false";
      }
      if (value != "true" && value != "false") {
        return absl::InvalidArgumentError(absl::StrCat(
            "invalid boolean value \"", value, "\" for -", name));
      }
    } else {
      value = "true";
    }
    out.values[name] = value;
  }
  out.rest.assign(args.begin() + i, args.end());
  return out;
}

absl::Span<const FlagSpec> GlobalFlagSpecs() { return kGlobalFlags; }

std::string FlagHelp(absl::Span<const FlagSpec> specs) {
  std::string out;
  for (const FlagSpec& s : specs) {
    absl::StrAppendFormat(&out, "  --%-16s %s\n",
                          absl::StrCat(s.name, s.takes_value ? " value" : ""),
                          s.help);
  }
  return out;
}

}  // namespace moat::cli
