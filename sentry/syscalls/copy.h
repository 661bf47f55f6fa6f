// Typed copies between application memory and the sentry for syscall
// handlers: objects, arrays of iovecs. All go through the MemoryManager.
#ifndef MOAT_SENTRY_SYSCALLS_COPY_H_
#define MOAT_SENTRY_SYSCALLS_COPY_H_

#include <sys/uio.h>

#include <type_traits>
#include <vector>

#include "fs/file_description.h"
#include "sentry/kernel/task.h"

namespace moat {

template <typename T>
ErrorOr<void> CopyOutObject(Task& task, uint64_t addr, const T& value) {
  static_assert(std::is_trivially_copyable_v<T>);
  return task.mm().CopyOut(UserAddr(addr), &value, sizeof(T));
}

template <typename T>
ErrorOr<T> CopyInObject(Task& task, uint64_t addr) {
  static_assert(std::is_trivially_copyable_v<T>);
  T value;
  TRY_VOID(task.mm().CopyIn(UserAddr(addr), &value, sizeof(T)));
  return value;
}

// Reads an iovec array as readv(2) does: EINVAL for more than UIO_MAXIOV
// entries or a total length that overflows ssize_t, EFAULT for a bad array.
inline ErrorOr<std::vector<fs::IoVec>> CopyInIovecs(Task& task, uint64_t addr,
                                                    uint64_t count) {
  if (count > UIO_MAXIOV) return Errno{EINVAL};
  std::vector<struct iovec> raw(count);
  if (count > 0) {
    TRY_VOID(task.mm().CopyIn(UserAddr(addr), raw.data(),
                              count * sizeof(struct iovec)));
  }
  std::vector<fs::IoVec> out;
  out.reserve(count);
  uint64_t total = 0;
  for (const struct iovec& v : raw) {
    uint64_t len = v.iov_len;
    if (len > static_cast<uint64_t>(INT64_MAX) - total) return Errno{EINVAL};
    total += len;
    out.push_back({UserAddr(reinterpret_cast<uint64_t>(v.iov_base)), len});
  }
  return out;
}

}  // namespace moat

#endif  // MOAT_SENTRY_SYSCALLS_COPY_H_
