#include "gofer/process.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gofer/seccomp_policy.h"
#include "gofer/server.h"
#include "sentry/base/logging.h"
#include "sentry/base/status.h"
#include "sentry/base/unique_fd.h"

namespace moat::gofer {
namespace {

// What the gofer keeps (capabilities(7)): creating files owned by the
// sandbox's users and acting on files whatever their modes, as the sentry
// does its own permission checks. Everything else goes.
constexpr int kKeptCaps[] = {CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH,
                             CAP_FOWNER, CAP_FSETID};

// Makes `root` this process's "/", seeing nothing outside it.
absl::Status EnterRoot(const std::string& root) {
  if (unshare(CLONE_NEWNS) == 0) {
    // Nothing we mount may propagate back to the host (mount_namespaces(7)).
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
      return ErrnoStatus(errno, "gofer: make mounts private");
    // Serving the whole host tree (`moat do`'s root): nothing lies outside
    // it to hide, and pivot_root(2) refuses a new root that is the current
    // one (EBUSY), so the private namespace is all there is to do.
    if (root.find_first_not_of('/') == std::string::npos) {
      if (chdir("/") != 0) return ErrnoStatus(errno, "gofer: chdir /");
      return absl::OkStatus();
    }
    // pivot_root(2) wants new_root to be a mount point.
    if (mount(root.c_str(), root.c_str(), nullptr, MS_BIND | MS_REC,
              nullptr) != 0)
      return ErrnoStatus(errno, absl::StrCat("gofer: bind mount ", root));
    if (chdir(root.c_str()) != 0)
      return ErrnoStatus(errno, absl::StrCat("gofer: chdir ", root));
    // pivot_root(".", ".") stacks the old root on top of the new one; the
    // detach then drops it (pivot_root(2), NOTES).
    if (syscall(SYS_pivot_root, ".", ".") != 0)
      return ErrnoStatus(errno, "gofer: pivot_root");
    if (umount2(".", MNT_DETACH) != 0)
      return ErrnoStatus(errno, "gofer: detach the old root");
    if (chdir("/") != 0) return ErrnoStatus(errno, "gofer: chdir /");
    return absl::OkStatus();
  }
  Log("gofer").warn("no mount namespace ({}); using chroot",
                    std::strerror(errno));
  if (chroot(root.c_str()) != 0)
    return ErrnoStatus(errno, absl::StrCat("gofer: chroot ", root));
  if (chdir("/") != 0) return ErrnoStatus(errno, "gofer: chdir /");
  return absl::OkStatus();
}

absl::Status DropCapabilities() {
  // Bounding set first (needs CAP_SETPCAP, which is dropped below).
  for (int cap = 0; cap <= 63; ++cap) {
    bool kept = false;
    for (int k : kKeptCaps) kept |= k == cap;
    if (kept) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      if (errno == EINVAL) break;  // Past the kernel's last capability.
      if (errno == EPERM) break;   // No CAP_SETPCAP: nothing to bound.
      return ErrnoStatus(errno, "gofer: PR_CAPBSET_DROP");
    }
  }
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  __user_cap_header_struct header{.version = _LINUX_CAPABILITY_VERSION_3,
                                   .pid = 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capget, &header, data) != 0)
    return ErrnoStatus(errno, "gofer: capget");
  uint64_t keep = 0;
  for (int k : kKeptCaps) keep |= uint64_t{1} << k;
  uint64_t permitted =
      (uint64_t{data[1].permitted} << 32 | data[0].permitted) & keep;
  for (int i = 0; i < 2; ++i) {
    data[i].permitted = static_cast<uint32_t>(permitted >> (32 * i));
    data[i].effective = data[i].permitted;
    data[i].inheritable = 0;
  }
  if (syscall(SYS_capset, &header, data) != 0)
    return ErrnoStatus(errno, "gofer: capset");
  return absl::OkStatus();
}

}  // namespace

absl::Status RunGoferProcess(const GoferProcessOptions& options) {
  std::vector<UniqueFd> channels;
  for (int fd : options.channel_fds) channels.emplace_back(fd);
  if (channels.empty()) return absl::InvalidArgumentError("gofer: no channels");
  if (options.root.empty() || options.root[0] != '/')
    return absl::InvalidArgumentError("gofer: --root must be absolute");
  // Create the logger and load the time zone now: both may open files,
  // which after pivot_root would be the sandbox's.
  spdlog::logger& log = Log("gofer");
  tzset();
  // Reopens go through the host's procfs, held before the root changes.
  GoferServerOptions server_options;
  server_options.read_only = options.read_only;
  server_options.proc_self_fd.reset(
      open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!server_options.proc_self_fd.valid())
    return ErrnoStatus(errno, "gofer: open /proc/self/fd");
  // Every handle is an fd; let the table use what the hard limit allows.
  rlimit nofile;
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 &&
      nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }
  RETURN_IF_ERROR(EnterRoot(options.root));
  UniqueFd root(open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) return ErrnoStatus(errno, "gofer: open the new /");
  // The sentry sends exact modes (its umask already applied).
  umask(0);
  ASSIGN_OR_RETURN(std::unique_ptr<GoferServer> server,
                   GoferServer::Create(std::move(root),
                                       std::move(server_options)));
  RETURN_IF_ERROR(DropCapabilities());
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return ErrnoStatus(errno, "gofer: PR_SET_NO_NEW_PRIVS");
  RETURN_IF_ERROR(InstallGoferSeccompFilter());
  log.debug("serving {} on {} channel(s){}", options.root, channels.size(),
            options.read_only ? " read-only" : "");
  for (UniqueFd& ch : channels) server->AddChannel(std::move(ch));
  server->Wait();
  return absl::OkStatus();
}

}  // namespace moat::gofer
