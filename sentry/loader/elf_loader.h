// Loads an ELF64 x86-64 executable into a fresh MemoryManager and builds the
// initial stack (argv, envp, auxv) exactly as Linux's binfmt_elf does.
// Static (ET_EXEC) and static-pie (ET_DYN without PT_INTERP) executables;
// PT_INTERP is reported so the caller can load the interpreter (later).
#ifndef MOAT_SENTRY_LOADER_ELF_LOADER_H_
#define MOAT_SENTRY_LOADER_ELF_LOADER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "sentry/arch/user_addr.h"
#include "sentry/base/error_or.h"
#include "sentry/mm/memory_manager.h"

namespace moat {

// Reads bytes of the executable: pread semantics (short only at EOF).
class ExecutableSource {
 public:
  virtual ~ExecutableSource() = default;
  virtual ErrorOr<uint64_t> ReadAt(uint64_t offset, void* buf, uint64_t len) = 0;
};

struct ExecRequest {
  std::string filename;            // AT_EXECFN: the path given to execve.
  std::vector<std::string> argv;
  std::vector<std::string> envp;
  uint32_t uid = 0, euid = 0, gid = 0, egid = 0;
  bool secure = false;             // AT_SECURE.
  uint64_t hwcap = 0, hwcap2 = 0;  // AT_HWCAP, AT_HWCAP2 (host values).
  uint64_t minsigstksz = 0;        // AT_MINSIGSTKSZ (host value).
  uint64_t vdso_base = 0;          // AT_SYSINFO_EHDR, 0 if no vDSO.
  uint8_t random[16] = {};         // The 16 bytes AT_RANDOM points at.
};

struct LoadResult {
  uint64_t entry = 0;          // Where the thread starts.
  uint64_t stack_pointer = 0;  // Initial %rsp, pointing at argc.
  uint64_t brk_start = 0;
  std::string interpreter;     // PT_INTERP path, empty for static programs.
};

// Errors: ENOEXEC for anything that is not a loadable ELF64 x86-64
// executable (bad magic, class, machine, type, program headers out of range,
// overlapping or misordered PT_LOAD segments, p_filesz > p_memsz); E2BIG when
// argv+envp exceed the stack limit; ENOMEM when mapping fails. Dynamic
// executables (PT_INTERP) currently fail with ENOEXEC (needs the files work).
//
// `interpreter`, when not null, receives the PT_INTERP path even when the
// load fails because of it (an ErrorOr cannot carry both an errno and a
// result), so the caller can tell a dynamic program from a broken one.
ErrorOr<LoadResult> LoadElf(ExecutableSource& source, const ExecRequest& request,
                            MemoryManager& mm, std::string* interpreter = nullptr);

}  // namespace moat

#endif  // MOAT_SENTRY_LOADER_ELF_LOADER_H_
