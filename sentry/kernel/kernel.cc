#include "sentry/kernel/kernel.h"

#include <sys/auxv.h>
#include <sys/random.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "fs/host/host_file.h"
#include "fs/vfs/path_walk.h"
#include "sentry/base/logging.h"
#include "sentry/base/status.h"
#include "sentry/loader/elf_loader.h"

namespace moat {
namespace {

// The executable, read through the host fd the caller opened.
class HostFdSource : public ExecutableSource {
 public:
  explicit HostFdSource(int fd) : fd_(fd) {}
  ErrorOr<uint64_t> ReadAt(uint64_t offset, void* buf, uint64_t len) override {
    uint64_t done = 0;
    while (done < len) {
      ssize_t n = pread(fd_, static_cast<char*>(buf) + done, len - done,
                        static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return Errno{errno};
      }
      if (n == 0) break;
      done += n;
    }
    return done;
  }

 private:
  int fd_;
};

}  // namespace

Kernel::Kernel(MemoryFile& memory_file, platform::Platform& platform,
               SyscallDispatcher dispatcher)
    : memory_file_(memory_file),
      platform_(platform),
      dispatcher_(dispatcher),
      boot_time_(absl::Now()),
      hostname_("moat") {}

Kernel::~Kernel() = default;

absl::Status Kernel::CreateInit(InitProcessSpec spec) {
  ASSIGN_OR_RETURN(std::unique_ptr<platform::AddressSpace> as,
                   platform_.NewAddressSpace());
  auto mm = std::make_shared<MemoryManager>(memory_file_, std::move(as));

  ExecRequest request;
  request.filename = spec.filename;
  request.argv = spec.argv;
  request.envp = spec.envp;
  request.uid = spec.credentials.ruid;
  request.euid = spec.credentials.euid;
  request.gid = spec.credentials.rgid;
  request.egid = spec.credentials.egid;
  request.hwcap = getauxval(AT_HWCAP);
  request.hwcap2 = getauxval(AT_HWCAP2);
  request.minsigstksz = getauxval(AT_MINSIGSTKSZ);
  if (getrandom(request.random, sizeof(request.random), 0) !=
      sizeof(request.random)) {
    return ErrnoStatus(errno, "getrandom");
  }
  HostFdSource source(spec.executable.get());
  ErrorOr<LoadResult> loaded = LoadElf(source, request, *mm);
  if (!loaded.ok()) return ErrnoStatus(loaded.error(), spec.filename);

  auto fds = std::make_shared<fs::FdTable>();
  for (int i = 0; i < 3; ++i) {
    if (spec.stdio[i].valid()) {
      fds->Set(i, std::make_shared<fs::HostFile>(std::move(spec.stdio[i])),
               false);
    }
  }

  ASSIGN_OR_RETURN(std::unique_ptr<platform::Context> context,
                   platform_.NewContext());
  int pid;
  {
    absl::MutexLock lock(&mu_);
    pid = next_pid_++;
  }
  init_group_ = std::make_unique<ThreadGroup>(*this, pid);
  init_group_->set_credentials(spec.credentials);
  MOAT_CHECK(mounts_ != nullptr);
  fs::VirtualPath root = mounts_->Root();
  fs::LookupContext lookup;
  lookup.mounts = mounts_.get();
  lookup.root = root;
  lookup.creds.uid = spec.credentials.euid;
  lookup.creds.gid = spec.credentials.egid;
  ErrorOr<fs::VirtualPath> cwd =
      fs::Resolve(lookup, root, spec.cwd, /*follow_final=*/true);
  if (!cwd.ok() || !cwd->inode().IsDir()) {
    Log("sentry").info("working directory {} not found in the sandbox; "
                       "starting in /",
                       spec.cwd);
  }
  init_group_->set_fs_context(std::make_shared<fs::FsContext>(
      mounts_, root, (cwd.ok() && cwd->inode().IsDir()) ? *cwd : root));
  for (int r = 0; r < RLIM_NLIMITS; ++r) {
    init_group_->SetRlimit(r, spec.rlimits[r]);
  }
  init_task_ = std::make_unique<Task>(
      *this, *init_group_, pid, std::move(mm), std::move(fds),
      std::move(context), InitialRegisters(loaded->entry, loaded->stack_pointer));
  std::string comm = spec.filename.substr(spec.filename.rfind('/') + 1);
  init_task_->set_name(comm.substr(0, 15));
  return absl::OkStatus();
}

int Kernel::RunInit() {
  MOAT_CHECK(init_task_ != nullptr);
  init_task_->Run();
  return init_group_->exit_status().value_or(0);
}

void Kernel::SignalInit(int sig) {
  if (!init_task_) return;
  siginfo_t info{};
  info.si_signo = sig;
  info.si_code = SI_USER;  // Sent by a process outside the sandbox: pid 0.
  init_task_->QueueSignal(info);
}

std::string Kernel::hostname() const {
  absl::MutexLock lock(&mu_);
  return hostname_;
}

void Kernel::set_hostname(std::string name) {
  absl::MutexLock lock(&mu_);
  hostname_ = std::move(name);
}

int Kernel::TaskCount() const { return init_task_ ? 1 : 0; }

}  // namespace moat
