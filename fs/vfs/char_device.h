// The memory character devices (Linux's drivers/char/mem.c and random.c):
// /dev/null (1:3), zero (1:5), full (1:7), random (1:8), urandom (1:9).
// As in Linux, a device file's behaviour comes from its device number, not
// from the file system holding the node, so any file system's device
// inodes use these. Stateless; no locks.
#ifndef MOAT_FS_VFS_CHAR_DEVICE_H_
#define MOAT_FS_VFS_CHAR_DEVICE_H_

#include <cstdint>

#include "absl/types/span.h"
#include "fs/file_description.h"
#include "sentry/base/error_or.h"

namespace moat::fs {

// Whether opening a character device with `rdev` succeeds (else ENXIO, as
// Linux does for a device without a driver).
bool CharDeviceKnown(uint64_t rdev);
ErrorOr<uint64_t> CharDeviceRead(uint64_t rdev, IoContext& ctx,
                                 absl::Span<const IoVec> dst);
ErrorOr<uint64_t> CharDeviceWrite(uint64_t rdev, IoContext& ctx,
                                  absl::Span<const IoVec> src);

}  // namespace moat::fs

#endif  // MOAT_FS_VFS_CHAR_DEVICE_H_
