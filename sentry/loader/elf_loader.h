// Loads an ELF64 x86-64 executable into a fresh MemoryManager and builds the
// initial stack (argv, envp, auxv) exactly as Linux's binfmt_elf does.
// Static (ET_EXEC), static-pie (ET_DYN without PT_INTERP) and dynamic
// executables: the PT_INTERP program (ld-linux) is opened through the
// caller's ExecRequest::open_interpreter and loaded below the mmap base.
// Segments are mapped as private file mappings when the source offers a
// Mappable (pages come on demand), else copied in.
#ifndef MOAT_SENTRY_LOADER_ELF_LOADER_H_
#define MOAT_SENTRY_LOADER_ELF_LOADER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sentry/arch/user_addr.h"
#include "sentry/base/error_or.h"
#include "sentry/mm/mappable.h"
#include "sentry/mm/memory_manager.h"

namespace moat {

// Reads bytes of the executable: pread semantics (short only at EOF).
class ExecutableSource {
 public:
  virtual ~ExecutableSource() = default;
  virtual ErrorOr<uint64_t> ReadAt(uint64_t offset, void* buf, uint64_t len) = 0;
  // The executable as a Mappable, so that segments can be mapped privately
  // (MAP_PRIVATE semantics: pages read on first touch); null to copy them.
  virtual std::shared_ptr<Mappable> mappable() { return nullptr; }
};

// Opens the PT_INTERP path for reading (resolved as execve resolves paths,
// from the caller's root). Errors are execve's (ENOENT, EACCES...).
using InterpreterOpener =
    std::function<ErrorOr<std::unique_ptr<ExecutableSource>>(const std::string& path)>;

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
  // For dynamic executables; empty: PT_INTERP fails with ENOEXEC.
  InterpreterOpener open_interpreter;
};

struct LoadResult {
  uint64_t entry = 0;          // Where the thread starts.
  uint64_t stack_pointer = 0;  // Initial %rsp, pointing at argc.
  uint64_t brk_start = 0;
  std::string interpreter;     // PT_INTERP path, empty for static programs.
  uint64_t interp_base = 0;    // AT_BASE: where the interpreter was loaded.
  uint64_t program_entry = 0;  // AT_ENTRY: the executable's own entry.
};

// Errors: ENOEXEC for anything that is not a loadable ELF64 x86-64
// executable (bad magic, class, machine, type, program headers out of range,
// overlapping or misordered PT_LOAD segments, p_filesz > p_memsz); E2BIG when
// argv+envp exceed the stack limit; ENOMEM when mapping fails; the
// interpreter's open error (ENOENT...) or ELIBBAD when it is not a loadable
// ELF. Without request.open_interpreter a dynamic executable fails with
// ENOEXEC.
//
// `interpreter`, when not null, receives the PT_INTERP path even when the
// load fails because of it (an ErrorOr cannot carry both an errno and a
// result), so the caller can tell a dynamic program from a broken one.
ErrorOr<LoadResult> LoadElf(ExecutableSource& source, const ExecRequest& request,
                            MemoryManager& mm, std::string* interpreter = nullptr);

}  // namespace moat

#endif  // MOAT_SENTRY_LOADER_ELF_LOADER_H_
