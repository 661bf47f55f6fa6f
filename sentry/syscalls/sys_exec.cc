// Process images: execve, execveat (man 2 execve, execveat). The path is
// resolved through the VFS and checked as Linux's do_open_execat does
// (regular file, execute permission); "#!" scripts are rewritten as
// binfmt_script does and the interpreter looked up in turn; ELF programs go
// through the loader, with their PT_INTERP opened the same way. Everything
// is loaded into a new MemoryManager first, so a failure leaves the caller
// as it was; only then does the Kernel remove the other threads (de_thread)
// and the Task take the new image (the point of no return).
#include <elf.h>
#include <sys/auxv.h>
#include <sys/random.h>
#include <sys/syscall.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fs/vfs/permissions.h"
#include "sentry/kernel/file_mappable.h"
#include "sentry/kernel/kernel.h"
#include "sentry/loader/elf_loader.h"
#include "sentry/syscalls/copy.h"
#include "sentry/syscalls/exec.h"
#include "sentry/syscalls/fs_util.h"
#include "sentry/syscalls/syscall_table.h"

namespace moat {
namespace {

using A = ArgFormat;

// BINPRM_BUF_SIZE: how much of the file decides its format.
constexpr uint64_t kBinprmBufSize = 256;
// exec_binprm() follows at most this many "#!" scripts before the program
// that runs them (its depth > 5 check); one more is ELOOP.
constexpr int kMaxScriptDepth = 5;
// MAX_ARG_STRLEN and MAX_ARG_STRINGS.
constexpr uint64_t kMaxArgStrlen = 32 * 4096;
constexpr uint64_t kMaxArgStrings = 0x7fffffff;
// What argv and envp may take in all (a quarter of the 8 MiB stack, as
// bprm_stack_limits; the loader checks the exact figure). Bounds what a
// hostile caller makes the sentry allocate.
constexpr uint64_t kArgLimit = (8ull << 20) / 4;

// The executable, read through the VFS and mapped privately on demand.
class FileSource : public ExecutableSource {
 public:
  FileSource(MemoryFile& mf, std::shared_ptr<fs::VfsFile> file)
      : mf_(mf), file_(std::move(file)) {}
  ErrorOr<uint64_t> ReadAt(uint64_t offset, void* buf, uint64_t len) override {
    return ReadFileToSentry(mf_, file_->inode(), offset,
                            static_cast<uint8_t*>(buf), len);
  }
  std::shared_ptr<Mappable> mappable() override {
    if (mappable_ == nullptr) mappable_ = std::make_shared<FileMappable>(mf_, file_);
    return mappable_;
  }

 private:
  MemoryFile& mf_;
  const std::shared_ptr<fs::VfsFile> file_;
  std::shared_ptr<Mappable> mappable_;
};

// do_open_execat(): a symlink (with AT_SYMLINK_NOFOLLOW) is ELOOP, anything
// but a regular file EACCES, then execute permission. The file is opened
// for reading without read permission, as Linux's FMODE_EXEC open.
ErrorOr<std::shared_ptr<fs::VfsFile>> OpenExecPath(Task& t, const fs::VirtualPath& vp) {
  fs::Inode& inode = vp.inode();
  if (inode.IsSymlink()) return Errno{ELOOP};
  if (!inode.IsRegular()) return Errno{EACCES};
  fs::InodeAttr attr = TRY(inode.GetAttr());
  TRY_VOID(fs::CheckPermission(FsCreds(t), attr, fs::kMayExec));
  return std::make_shared<fs::VfsFile>(vp, O_RDONLY);
}

// open_exec(): a path relative to the working directory (interpreters).
ErrorOr<std::shared_ptr<fs::VfsFile>> OpenExec(Task& t, const std::string& path) {
  if (path.empty()) return Errno{ENOENT};
  fs::VirtualPath vp = TRY(fs::Resolve(LookupFor(t), t.group().fs_context().cwd(),
                                       path, /*follow_final=*/true));
  return OpenExecPath(t, vp);
}

// An argv/envp array: NULL-terminated pointers to strings. EFAULT for a bad
// pointer, E2BIG past the limits.
ErrorOr<void> CopyInStrings(Task& t, uint64_t addr, uint64_t* total,
                            std::vector<std::string>* out) {
  if (addr == 0) return {};  // Linux accepts NULL as an empty array.
  for (uint64_t i = 0;; ++i) {
    if (i >= kMaxArgStrings) return Errno{E2BIG};
    if (addr + i * sizeof(uint64_t) < addr) return Errno{EFAULT};
    const uint64_t p = TRY(CopyInObject<uint64_t>(t, addr + i * sizeof(uint64_t)));
    if (p == 0) return {};
    ErrorOr<std::string> s = t.mm().CopyInString(UserAddr(p), kMaxArgStrlen - 1);
    if (!s.ok()) return Errno{s.error() == ENAMETOOLONG ? E2BIG : s.error()};
    *total += s->size() + 1 + sizeof(uint64_t);
    if (*total > kArgLimit) return Errno{E2BIG};
    out->push_back(std::move(*s));
  }
}

// binfmt_script's parse of the "#!" line in `buf`: the interpreter and at
// most one argument (everything after the name, trimmed). ENOEXEC for an
// empty line or a name cut off by the end of the buffer.
ErrorOr<void> ParseScriptLine(const std::string& buf, std::string* interp,
                              std::string* arg) {
  std::string line = buf.substr(2);
  const size_t nl = line.find('\n');
  const bool complete = nl != std::string::npos;
  if (complete) line.resize(nl);
  if (const size_t nul = line.find('\0'); nul != std::string::npos) line.resize(nul);
  auto is_space = [](char c) { return c == ' ' || c == '\t'; };
  size_t b = 0;
  while (b < line.size() && is_space(line[b])) ++b;
  size_t e = line.size();
  while (e > b && is_space(line[e - 1])) --e;
  if (b == e) return Errno{ENOEXEC};
  size_t name_end = b;
  while (name_end < e && !is_space(line[name_end])) ++name_end;
  // Without a newline, a name reaching the end of the buffer may be
  // truncated: Linux refuses rather than run the wrong program.
  if (!complete && name_end == line.size()) return Errno{ENOEXEC};
  *interp = line.substr(b, name_end - b);
  size_t a = name_end;
  while (a < e && is_space(line[a])) ++a;
  arg->assign(line, a, e - a);
  return {};
}

std::string Basename(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// execveat(2) once its arguments are in the sentry: resolve, load into a
// new MemoryManager, then replace the task's image.
ErrorOr<void> ExecResolved(Task& t, int dirfd, const std::string& path,
                           int flags, std::vector<std::string> argv,
                           std::vector<std::string> envp) {
  // Linux 5.18+: an empty argv becomes { "" }, so argv[0] always exists.
  if (argv.empty()) argv.emplace_back();

  std::shared_ptr<fs::VfsFile> file;
  if (path.empty()) {
    if (!(flags & AT_EMPTY_PATH)) return Errno{ENOENT};
    std::shared_ptr<fs::VfsFile> f = TRY(GetVfsFile(t, dirfd, EACCES));
    file = TRY(OpenExecPath(t, f->path()));
  } else {
    fs::VirtualPath start = TRY(StartFor(t, dirfd, path));
    fs::VirtualPath vp = TRY(fs::Resolve(LookupFor(t), start, path,
                                         !(flags & AT_SYMLINK_NOFOLLOW)));
    file = TRY(OpenExecPath(t, vp));
  }
  // execveat(2): a path relative to a dirfd is named /dev/fd/N/path.
  std::string filename = path;
  if (dirfd != AT_FDCWD && (path.empty() || path[0] != '/')) {
    filename = absl::StrCat("/dev/fd/", dirfd, path.empty() ? "" : "/", path);
  }

  MemoryFile& mf = t.kernel().memory_file();
  // The file that binfmt_script hands its interpreter: the script itself,
  // then each interpreter that is a script in turn.
  std::string script_path = filename;
  for (int depth = 0;; ++depth) {
    std::string buf(kBinprmBufSize, '\0');
    const uint64_t n = TRY(ReadFileToSentry(
        mf, file->inode(), 0, reinterpret_cast<uint8_t*>(buf.data()), buf.size()));
    buf.resize(n);
    if (n >= SELFMAG && std::memcmp(buf.data(), ELFMAG, SELFMAG) == 0) break;
    if (n < 2 || buf[0] != '#' || buf[1] != '!') return Errno{ENOEXEC};
    if (depth >= kMaxScriptDepth) return Errno{ELOOP};
    std::string interp, arg;
    TRY_VOID(ParseScriptLine(buf, &interp, &arg));
    // argv[0] gives way to: interpreter, [argument], the script's path.
    std::vector<std::string> new_argv;
    new_argv.push_back(interp);
    if (!arg.empty()) new_argv.push_back(arg);
    new_argv.push_back(script_path);
    new_argv.insert(new_argv.end(), argv.begin() + 1, argv.end());
    argv = std::move(new_argv);
    file = TRY(OpenExec(t, interp));
    script_path = interp;
  }

  absl::StatusOr<std::unique_ptr<platform::AddressSpace>> as =
      t.kernel().platform().NewAddressSpace();
  if (!as.ok()) return Errno{ENOMEM};
  auto mm = std::make_shared<MemoryManager>(mf, std::move(*as));
  ExecRequest request;
  request.filename = filename;
  request.argv = std::move(argv);
  request.envp = std::move(envp);
  const Credentials creds = t.group().credentials();
  request.uid = creds.ruid;
  request.euid = creds.euid;
  request.gid = creds.rgid;
  request.egid = creds.egid;
  request.hwcap = getauxval(AT_HWCAP);
  request.hwcap2 = getauxval(AT_HWCAP2);
  request.minsigstksz = getauxval(AT_MINSIGSTKSZ);
  if (getrandom(request.random, sizeof(request.random), 0) !=
      sizeof(request.random)) {
    return Errno{EAGAIN};
  }
  request.open_interpreter =
      [&t, &mf](const std::string& interp) -> ErrorOr<std::unique_ptr<ExecutableSource>> {
    std::shared_ptr<fs::VfsFile> f = TRY(OpenExec(t, interp));
    return std::unique_ptr<ExecutableSource>(std::make_unique<FileSource>(mf, f));
  };
  FileSource source(mf, file);
  LoadResult loaded = TRY(LoadElf(source, request, *mm));

  // The point of no return: from here the old image is gone.
  TRY_VOID(t.kernel().ExecDeThread(t));
  t.ExecReplace(std::move(mm), InitialRegisters(loaded.entry, loaded.stack_pointer),
                Basename(filename).substr(0, 15));
  return {};
}

SyscallResult DoExecve(Task& t, int dirfd, uint64_t path_addr, uint64_t argv_addr,
                       uint64_t envp_addr, int flags) {
  if (flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) return Errno{EINVAL};
  const std::string path = TRY(CopyInPath(t, path_addr));
  std::vector<std::string> argv, envp;
  uint64_t total = 0;
  TRY_VOID(CopyInStrings(t, argv_addr, &total, &argv));
  TRY_VOID(CopyInStrings(t, envp_addr, &total, &envp));
  TRY_VOID(ExecResolved(t, dirfd, path, flags, std::move(argv), std::move(envp)));
  return 0;
}

SyscallResult Execve(Task& t, const SyscallArgs& a) {
  return DoExecve(t, AT_FDCWD, a[0], a[1], a[2], 0);
}

SyscallResult Execveat(Task& t, const SyscallArgs& a) {
  return DoExecve(t, a.Int(0), a[1], a[2], a[3], a.Int(4));
}

constexpr SyscallSpec kSpecs[] = {
    {SYS_execve, Execve, Support::kPartial,
     "ELF (static, static-pie, dynamic with PT_INTERP) and #! scripts; no "
     "set-uid, no vDSO", {A::kPath, A::kPtr, A::kPtr}},
    {SYS_execveat, Execveat, Support::kPartial, "as execve",
     {A::kFd, A::kPath, A::kPtr, A::kPtr, A::kHex}},
};

}  // namespace

absl::Span<const SyscallSpec> ExecSyscalls() { return kSpecs; }

ErrorOr<void> ExecProgram(Task& task, const std::string& path,
                          std::vector<std::string> argv,
                          std::vector<std::string> envp) {
  uint64_t total = 0;
  for (const auto& s : argv) total += s.size() + 1 + sizeof(uint64_t);
  for (const auto& s : envp) total += s.size() + 1 + sizeof(uint64_t);
  if (total > kArgLimit) return Errno{E2BIG};
  return ExecResolved(task, AT_FDCWD, path, 0, std::move(argv),
                      std::move(envp));
}

}  // namespace moat
