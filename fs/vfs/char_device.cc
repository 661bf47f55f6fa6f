#include "fs/vfs/char_device.h"

#include <sys/mman.h>
#include <sys/random.h>
#include <sys/sysmacros.h>

#include <cstring>

#include "fs/iovec_io.h"
#include "sentry/mm/memory_manager.h"

namespace moat::fs {
namespace {

enum Minor { kNull = 3, kZero = 5, kFull = 7, kRandom = 8, kUrandom = 9 };

// Fills application buffers with zeros or random bytes.
ErrorOr<uint64_t> Fill(IoContext& ctx, absl::Span<const IoVec> dst,
                       bool random) {
  return TransferIovecs(
      ctx.mm(), dst, PROT_WRITE,
      [&](uint8_t* block, uint64_t len) -> ErrorOr<uint64_t> {
        if (!random) {
          std::memset(block, 0, len);
          return len;
        }
        ssize_t got = getrandom(block, len, 0);
        if (got < 0) return Errno{errno};
        return static_cast<uint64_t>(got);
      });
}

}  // namespace

bool CharDeviceKnown(uint64_t rdev) {
  if (major(rdev) != 1) return false;
  switch (minor(rdev)) {
    case kNull:
    case kZero:
    case kFull:
    case kRandom:
    case kUrandom:
      return true;
    default:
      return false;
  }
}

ErrorOr<uint64_t> CharDeviceRead(uint64_t rdev, IoContext& ctx,
                                 absl::Span<const IoVec> dst) {
  if (!CharDeviceKnown(rdev)) return Errno{ENXIO};
  switch (minor(rdev)) {
    case kNull:
      return 0;
    case kZero:
    case kFull:
      return Fill(ctx, dst, /*random=*/false);
    default:
      return Fill(ctx, dst, /*random=*/true);
  }
}

ErrorOr<uint64_t> CharDeviceWrite(uint64_t rdev, IoContext& ctx,
                                  absl::Span<const IoVec> src) {
  if (!CharDeviceKnown(rdev)) return Errno{ENXIO};
  // /dev/full: every write fails with ENOSPC. The others swallow the data
  // (writes to random devices only mix entropy in Linux).
  if (minor(rdev) == kFull) return Errno{ENOSPC};
  return IovecLength(src);
}

}  // namespace moat::fs
