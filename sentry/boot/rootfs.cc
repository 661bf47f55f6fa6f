#include "sentry/boot/rootfs.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "fs/tmpfs/tmpfs.h"
#include "fs/vfs/operations.h"
#include "sentry/base/status.h"

namespace moat {
namespace {

absl::Status Check(ErrorOr<void> r, absl::string_view what) {
  if (r.ok() || r.error() == EEXIST) return absl::OkStatus();
  return ErrnoStatus(r.error(), absl::StrCat("building the root file system: ",
                                             what));
}

}  // namespace

absl::StatusOr<std::shared_ptr<fs::MountNamespace>> BuildBootRootfs(
    MemoryFile& memory_file, const std::string& cwd, uint32_t uid,
    uint32_t gid) {
  auto tmpfs = fs::Tmpfs::Create(memory_file, 0755);
  auto mounts = std::make_shared<fs::MountNamespace>(tmpfs);
  fs::LookupContext ctx;  // uid 0: boot builds the tree.
  ctx.mounts = mounts.get();
  ctx.root = mounts->Root();
  const fs::VirtualPath& root = ctx.root;

  RETURN_IF_ERROR(Check(fs::MknodAt(ctx, root, "/tmp", S_IFDIR | 01777, 0),
                        "/tmp"));
  RETURN_IF_ERROR(Check(fs::MknodAt(ctx, root, "/proc", S_IFDIR | 0555, 0),
                        "/proc"));
  RETURN_IF_ERROR(Check(fs::MknodAt(ctx, root, "/dev", S_IFDIR | 0755, 0),
                        "/dev"));
  struct Device {
    const char* name;
    unsigned minor;
  };
  for (const Device& d : {Device{"null", 3}, Device{"zero", 5},
                          Device{"full", 7}, Device{"random", 8},
                          Device{"urandom", 9}}) {
    std::string path = absl::StrCat("/dev/", d.name);
    RETURN_IF_ERROR(Check(
        fs::MknodAt(ctx, root, path, S_IFCHR | 0666, makedev(1, d.minor)),
        path));
  }

  // TEMPORARY until the gofer provides the host tree: recreate the
  // directory `moat do` started in (mkdir -p) so that getcwd keeps
  // returning it and relative paths have somewhere to live.
  std::string prefix;
  for (absl::string_view part :
       absl::StrSplit(cwd, '/', absl::SkipEmpty())) {
    absl::StrAppend(&prefix, "/", part);
    ErrorOr<fs::VirtualPath> existing = fs::Resolve(ctx, root, prefix, true);
    if (existing.ok()) continue;
    RETURN_IF_ERROR(Check(fs::MknodAt(ctx, root, prefix, S_IFDIR | 0755, 0),
                          prefix));
    ErrorOr<fs::VirtualPath> made = fs::Resolve(ctx, root, prefix, true);
    if (made.ok()) {
      fs::SetAttrRequest owner;
      owner.mask = fs::SetAttrRequest::kUid | fs::SetAttrRequest::kGid;
      owner.uid = uid;
      owner.gid = gid;
      RETURN_IF_ERROR(Check(made->inode().SetAttr(owner), prefix));
    }
  }
  return mounts;
}

}  // namespace moat
