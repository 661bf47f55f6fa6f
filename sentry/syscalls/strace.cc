// --strace output in strace(1)'s format: `write(1, "hi\n", 3) = 3`,
// `openat(AT_FDCWD, "/x", ...) = -1 ENOENT (No such file or directory)`.
#include <fcntl.h>

#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "sentry/kernel/task.h"
#include "sentry/syscalls/syscall_table.h"

namespace moat {
namespace {

// strace's default string limit (-s 32).
constexpr uint64_t kMaxShown = 32;

std::string Quote(const std::string& data, bool truncated) {
  std::string out = "\"";
  for (unsigned char c : data) {
    switch (c) {
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case '\v': out += "\\v"; break;
      case '\f': out += "\\f"; break;
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      default:
        if (c >= 0x20 && c < 0x7f) {
          out += static_cast<char>(c);
        } else {
          absl::StrAppendFormat(&out, "\\%o", c);
        }
    }
  }
  out += "\"";
  if (truncated) out += "...";
  return out;
}

std::string FormatBuffer(Task* task, uint64_t addr, uint64_t len) {
  if (task == nullptr) return absl::StrFormat("%#x", addr);
  uint64_t shown = len < kMaxShown ? len : kMaxShown;
  std::string data(shown, '\0');
  if (!task->mm().CopyIn(UserAddr(addr), data.data(), shown).ok()) {
    return absl::StrFormat("%#x", addr);
  }
  return Quote(data, shown < len);
}

std::string FormatPath(Task* task, uint64_t addr) {
  if (addr == 0) return "NULL";
  if (task == nullptr) return absl::StrFormat("%#x", addr);
  ErrorOr<std::string> s = task->mm().CopyInString(UserAddr(addr), 4096);
  if (!s.ok()) return absl::StrFormat("%#x", addr);
  bool truncated = s->size() > kMaxShown;
  return Quote(truncated ? s->substr(0, kMaxShown) : *s, truncated);
}

std::string FormatArg(Task* task, ArgFormat f, const SyscallArgs& args, int i,
                      SyscallResult result, bool returned) {
  uint64_t v = args[i];
  switch (f) {
    case ArgFormat::kNone:
      return "";
    case ArgFormat::kInt:
      return absl::StrCat(static_cast<int64_t>(v));
    case ArgFormat::kUInt:
      return absl::StrCat(v);
    case ArgFormat::kOct:
      return absl::StrFormat("%#o", v);
    case ArgFormat::kFd:
      if (static_cast<int>(v) == AT_FDCWD) return "AT_FDCWD";
      return absl::StrCat(static_cast<int>(v));
    case ArgFormat::kPath:
      return FormatPath(task, v);
    case ArgFormat::kInBuf:
      return FormatBuffer(task, v, i < 5 ? args[i + 1] : 0);
    case ArgFormat::kOutBuf:
      if (!returned || result.is_error()) return absl::StrFormat("%#x", v);
      return FormatBuffer(task, v, static_cast<uint64_t>(result.raw()));
    case ArgFormat::kSignal: {
      const char* abbrev = sigabbrev_np(static_cast<int>(v));
      if (abbrev) return absl::StrCat("SIG", abbrev);
      return absl::StrCat(static_cast<int64_t>(v));
    }
    case ArgFormat::kPtr:
      if (v == 0) return "NULL";
      return absl::StrFormat("%#x", v);
    case ArgFormat::kHex:
      return absl::StrFormat("%#x", v);
  }
  return "";
}

}  // namespace

std::string FormatStraceLine(Task* task, const SyscallEntry& entry,
                             uint64_t nr, const SyscallArgs& args,
                             SyscallResult result, bool returned) {
  std::string line =
      entry.name ? std::string(entry.name) : absl::StrCat("syscall_", nr);
  line += "(";
  // A syscall Moat does not implement has no known signature: show all six
  // raw values.
  bool known = entry.fn != nullptr;
  for (int i = 0; i < 6; ++i) {
    ArgFormat f = entry.args[i];
    if (!known) {
      f = ArgFormat::kHex;
    } else if (f == ArgFormat::kNone) {
      break;
    }
    if (i > 0) line += ", ";
    line += FormatArg(task, f, args, i, result, returned);
  }
  line += ")";
  if (!returned) return line + " = ?";
  if (result.is_error()) {
    int err = result.error();
    const char* name = strerrorname_np(err);
    if (err == ERESTARTSYS) name = "ERESTARTSYS";
    if (err == ERESTARTNOINTR) name = "ERESTARTNOINTR";
    if (err == ERESTARTNOHAND) name = "ERESTARTNOHAND";
    if (err == ERESTART_RESTARTBLOCK) name = "ERESTART_RESTARTBLOCK";
    if (err >= ERESTARTSYS) {
      return absl::StrCat(line, " = ? ", name, " (To be restarted)");
    }
    return absl::StrCat(line, " = -1 ", name ? name : absl::StrCat(err), " (",
                        std::strerror(err), ")");
  }
  if (entry.flags & kReturnsAddress) {
    return absl::StrCat(line, absl::StrFormat(" = %#x", result.raw()));
  }
  return absl::StrCat(line, " = ", result.raw());
}

}  // namespace moat
