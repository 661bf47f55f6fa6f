#include "sentry/boot/rootfs.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "fs/gofer/gofer_fs.h"
#include "fs/tmpfs/tmpfs.h"
#include "fs/vfs/operations.h"
#include "gofer/client.h"
#include "sentry/base/status.h"

namespace moat {
namespace {

absl::Status Check(ErrorOr<void> r, absl::string_view what) {
  if (r.ok() || r.error() == EEXIST) return absl::OkStatus();
  return ErrnoStatus(r.error(),
                     absl::StrCat("building the root file system: ", what));
}

// Mounts `fs` on the directory `path` of `mounts` (ctx's namespace).
absl::Status MountOn(fs::MountNamespace& mounts, const fs::LookupContext& ctx,
                     const std::string& path,
                     std::shared_ptr<fs::Filesystem> fs, int flags) {
  ErrorOr<fs::VirtualPath> target = fs::Resolve(ctx, ctx.root, path, true);
  if (!target.ok()) {
    return ErrnoStatus(target.error(),
                       absl::StrCat("building the root file system: ", path));
  }
  ErrorOr<fs::VirtualPath> mounted =
      mounts.MountAt(*target, std::move(fs), flags);
  if (!mounted.ok()) {
    return ErrnoStatus(mounted.error(), absl::StrCat("mounting on ", path));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<fs::MountNamespace>> BuildBootRootfs(
    MemoryFile& memory_file, RootfsOptions options) {
  std::shared_ptr<fs::MountNamespace> mounts;
  bool on_gofer = !options.gofer_channels.empty();
  if (on_gofer) {
    auto client =
        std::make_shared<gofer::GoferClient>(std::move(options.gofer_channels));
    ErrorOr<std::shared_ptr<fs::GoferFs>> root = fs::GoferFs::Create(client);
    if (!root.ok()) {
      return ErrnoStatus(root.error(),
                         "attaching to the gofer for the root file system");
    }
    mounts = std::make_shared<fs::MountNamespace>(
        *root, options.read_only ? fs::Mount::kReadOnly : 0);
  } else {
    mounts = std::make_shared<fs::MountNamespace>(
        fs::Tmpfs::Create(memory_file, 0755));
  }
  fs::LookupContext ctx;  // uid 0: boot builds the tree.
  ctx.mounts = mounts.get();
  ctx.root = mounts->Root();
  const fs::VirtualPath& root = ctx.root;

  if (!on_gofer) {
    // The host's root has these mountpoints; a bare tmpfs needs them made.
    for (const char* dir : {"/tmp", "/proc", "/dev"}) {
      RETURN_IF_ERROR(
          Check(fs::MknodAt(ctx, root, dir, S_IFDIR | 0755, 0), dir));
    }
  }
  // Writes under /tmp stay in the sandbox's memory, never the host's /tmp.
  RETURN_IF_ERROR(
      MountOn(*mounts, ctx, "/tmp", fs::Tmpfs::Create(memory_file, 01777), 0));
  // procfs does not exist yet: an empty directory rather than the host's.
  RETURN_IF_ERROR(
      MountOn(*mounts, ctx, "/proc", fs::Tmpfs::Create(memory_file, 0555), 0));
  // The sandbox's own devices hide the host's /dev, as runsc's devtmpfs.
  RETURN_IF_ERROR(
      MountOn(*mounts, ctx, "/dev", fs::Tmpfs::Create(memory_file, 0755), 0));
  struct Device {
    const char* name;
    unsigned minor;
  };
  for (const Device& d :
       {Device{"null", 3}, Device{"zero", 5}, Device{"full", 7},
        Device{"random", 8}, Device{"urandom", 9}}) {
    std::string path = absl::StrCat("/dev/", d.name);
    RETURN_IF_ERROR(
        Check(fs::MknodAt(ctx, root, path, S_IFCHR | 0666, makedev(1, d.minor)),
              path));
  }
  RETURN_IF_ERROR(Check(fs::MknodAt(ctx, root, "/dev/shm", S_IFDIR | 01777, 0),
                        "/dev/shm"));
  return mounts;
}

}  // namespace moat
