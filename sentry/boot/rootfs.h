// The sandbox's initial root file system, until the gofer serves the
// container's tree: a tmpfs holding /tmp, /dev (memory devices), /proc
// (an empty placeholder) and the working directory `moat do` started in.
// Boot-time only; it never touches the host file system.
#ifndef MOAT_SENTRY_BOOT_ROOTFS_H_
#define MOAT_SENTRY_BOOT_ROOTFS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "fs/vfs/mount.h"
#include "sentry/mm/memory_file.h"

namespace moat {

// Builds the root mount namespace. Directories created for `cwd` belong to
// uid/gid so the application can write where it started.
absl::StatusOr<std::shared_ptr<fs::MountNamespace>> BuildBootRootfs(
    MemoryFile& memory_file, const std::string& cwd, uint32_t uid,
    uint32_t gid);

}  // namespace moat

#endif  // MOAT_SENTRY_BOOT_ROOTFS_H_
