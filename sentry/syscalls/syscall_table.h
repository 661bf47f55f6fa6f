// The syscall table: a dense array indexed by x86-64 syscall number. Each
// entry has the name, the handler, how well Moat supports it, a note, and
// argument formats for --strace. `moat help syscalls` and
// docs/compatibility.md are generated from it; never list syscalls by hand.
//
// Each family file (sys_*.cc) declares its entries in a static array of
// SyscallSpec and exposes it through one function listed in
// syscall_table.cc. Numbers without an entry are "missing": they return
// ENOSYS and are logged once.
#ifndef MOAT_SENTRY_SYSCALLS_SYSCALL_TABLE_H_
#define MOAT_SENTRY_SYSCALLS_SYSCALL_TABLE_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/types/span.h"
#include "sentry/base/error_or.h"

namespace moat {

class Task;

enum class Support {
  kFull,     // Behaves as Linux does.
  kPartial,  // Works for common uses; the note says what is missing.
  kError,    // Always fails with a fixed errno on purpose (the note says why).
  kMissing,  // Not implemented: ENOSYS.
};

// How --strace prints an argument.
enum class ArgFormat : uint8_t {
  kNone,     // Not an argument (fewer than six).
  kInt,      // Signed decimal.
  kUInt,     // Unsigned decimal.
  kHex,      // 0x...
  kOct,      // 0755.
  kFd,       // File descriptor (AT_FDCWD shown by name).
  kPath,     // NUL-terminated string in application memory.
  kInBuf,    // Buffer the application passes in; its length is the next arg.
  kOutBuf,   // Buffer the kernel fills; its length is the return value.
  kSignal,   // Signal number (SIGINT).
  kPtr,      // Pointer, NULL shown as such.
};

struct SyscallArgs {
  std::array<uint64_t, 6> v{};
  uint64_t operator[](int i) const { return v[i]; }
  int Int(int i) const { return static_cast<int>(v[i]); }
};

using SyscallFn = SyscallResult (*)(Task& task, const SyscallArgs& args);

// SyscallSpec::flags.
inline constexpr int kNoReturn = 1;        // exit, exit_group: "= ?".
inline constexpr int kReturnsAddress = 2;  // Printed in hex (mmap, brk).

struct SyscallSpec {
  int nr;
  SyscallFn fn;
  Support support;
  const char* note;
  std::array<ArgFormat, 6> args;
  int flags = 0;
};

struct SyscallEntry {
  const char* name = nullptr;  // nullptr: no such syscall number.
  SyscallFn fn = nullptr;
  Support support = Support::kMissing;
  const char* note = "";
  std::array<ArgFormat, 6> args{};
  int flags = 0;
};

class SyscallTable {
 public:
  // Numbers 0..kSize-1 cover every x86-64 syscall Linux 6.1 defines.
  static constexpr int kSize = 451;

  static const SyscallTable& Get();

  // The entry for `nr`, or nullptr when out of range.
  const SyscallEntry* Find(uint64_t nr) const;

  // Serves the syscall in task.regs(): runs the handler (ENOSYS if none)
  // and writes the result to rax. Prints the --strace line if enabled.
  static void Dispatch(Task& task);

  // The table as a human-readable list (`moat help syscalls`) and as the
  // Markdown of docs/compatibility.md.
  std::string Text() const;
  std::string Markdown() const;

 private:
  SyscallTable();
  void Register(absl::Span<const SyscallSpec> specs);
  std::array<SyscallEntry, kSize> entries_{};
};

// Family tables (one per sys_*.cc file).
absl::Span<const SyscallSpec> ReadWriteSyscalls();
absl::Span<const SyscallSpec> MmapSyscalls();
absl::Span<const SyscallSpec> IdentitySyscalls();
absl::Span<const SyscallSpec> TimeSyscalls();
absl::Span<const SyscallSpec> SignalSyscalls();
absl::Span<const SyscallSpec> ThreadSyscalls();
absl::Span<const SyscallSpec> SystemSyscalls();
absl::Span<const SyscallSpec> FutexSyscalls();
absl::Span<const SyscallSpec> FsSyscalls();
absl::Span<const SyscallSpec> ProcessSyscalls();
absl::Span<const SyscallSpec> PipeSyscalls();
absl::Span<const SyscallSpec> FileSyscalls();
absl::Span<const SyscallSpec> StatSyscalls();
absl::Span<const SyscallSpec> DirSyscalls();
absl::Span<const SyscallSpec> LinkSyscalls();
absl::Span<const SyscallSpec> ExecSyscalls();
absl::Span<const SyscallSpec> PollSyscalls();
absl::Span<const SyscallSpec> EpollSyscalls();
absl::Span<const SyscallSpec> EventfdSyscalls();
absl::Span<const SyscallSpec> TimerfdSyscalls();

// Formats one strace line: `name(args) = result`. Exposed for tests.
std::string FormatStraceLine(Task* task, const SyscallEntry& entry,
                             uint64_t nr, const SyscallArgs& args,
                             SyscallResult result, bool returned);

}  // namespace moat

#endif  // MOAT_SENTRY_SYSCALLS_SYSCALL_TABLE_H_
