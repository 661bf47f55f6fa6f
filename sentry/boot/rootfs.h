// The sandbox's initial mount namespace (DESIGN.md §6): the root file
// system the gofer serves (the host's "/", read-only), with a fresh tmpfs
// on /tmp, a tmpfs of device nodes on /dev (over the host's /dev) and an
// empty tmpfs on /proc until procfs exists. Without a gofer (tests of the
// sentry alone) the root is a bare tmpfs holding the same mounts.
//
// Boot-time only. It never touches the host file system itself: host files
// are reached through the gofer's channels alone.
#ifndef MOAT_SENTRY_BOOT_ROOTFS_H_
#define MOAT_SENTRY_BOOT_ROOTFS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fs/vfs/mount.h"
#include "sentry/base/unique_fd.h"
#include "sentry/mm/memory_file.h"

namespace moat {

struct RootfsOptions {
  // Client ends of the gofer's channels; empty for a tmpfs root.
  std::vector<UniqueFd> gofer_channels;
  // Mount the gofer root read-only in the VFS too (EROFS before any
  // message); the gofer refuses writes either way when started with
  // --read-only.
  bool read_only = true;
};

absl::StatusOr<std::shared_ptr<fs::MountNamespace>> BuildBootRootfs(
    MemoryFile& memory_file, RootfsOptions options);

}  // namespace moat

#endif  // MOAT_SENTRY_BOOT_ROOTFS_H_
