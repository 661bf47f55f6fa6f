#include "runsc-cli/executable.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace moat::cli {
namespace {

ResolvedExecutable Error(int code, const std::string& name,
                         const std::string& what) {
  ResolvedExecutable r;
  r.exit_code = code;
  r.error = absl::StrCat(name, ": ", what);
  return r;
}

// Reads exactly `len` bytes at `off`; false on a short read.
bool ReadAt(int fd, void* buf, size_t len, off_t off) {
  return pread(fd, buf, len, off) == static_cast<ssize_t>(len);
}

// Returns "" when the ELF header and program headers describe something
// the loader accepts, or why not.
std::string CheckElf(int fd) {
  Elf64_Ehdr eh;
  if (!ReadAt(fd, &eh, sizeof(eh), 0) ||
      std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) {
    char start[2] = {};
    if (pread(fd, start, 2, 0) == 2 && start[0] == '#' && start[1] == '!') {
      return "";  // A script: the sandbox runs its interpreter.
    }
    return "cannot execute binary file: Exec format error";
  }
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64 ||
      (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)) {
    return "cannot execute binary file: Exec format error (not an x86-64 "
           "executable)";
  }
  return "";
}

}  // namespace

ResolvedExecutable ResolveExecutable(const std::string& name,
                                     const std::string& path_env) {
  std::vector<std::string> candidates;
  if (name.find('/') != std::string::npos) {
    candidates.push_back(name);
  } else if (!name.empty()) {
    for (absl::string_view dir : absl::StrSplit(path_env, ':')) {
      candidates.push_back(
          absl::StrCat(dir.empty() ? "." : dir, "/", name));
    }
  }
  // As execvp: the first candidate that exists decides; EACCES on one is
  // remembered if nothing better is found.
  bool saw_denied = false;
  for (const std::string& path : candidates) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      if (name.find('/') != std::string::npos) {
        return Error(126, name, "is a directory");
      }
      continue;
    }
    if (!S_ISREG(st.st_mode) || access(path.c_str(), X_OK) != 0) {
      saw_denied = true;
      continue;
    }
    UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
      return Error(126, name, absl::StrCat("cannot open: ", strerror(errno)));
    }
    std::string why = CheckElf(fd.get());
    if (!why.empty()) return Error(126, name, why);
    ResolvedExecutable r;
    r.path = path;
    return r;
  }
  if (saw_denied) return Error(126, name, "permission denied");
  if (name.find('/') != std::string::npos) {
    return Error(127, name, "no such file or directory");
  }
  return Error(127, name, "command not found (no such file or directory)");
}

}  // namespace moat::cli
