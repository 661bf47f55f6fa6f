// FileLocks: the advisory locks on one inode — flock(2) locks, owned by an
// open file description, and byte-range record locks (fcntl(2) F_SETLK),
// owned by a process (classic POSIX locks) or by an open file description
// (OFD locks). As in Linux, flock and record locks never conflict with
// each other; POSIX and OFD record locks do.
//
// Only non-blocking operations live here: a conflict is reported as
// EAGAIN (EWOULDBLOCK) and the syscall layer waits and retries, so every
// wait stays interruptible by signals. It never blocks, never touches
// application memory. mu_ is a leaf lock.
#ifndef MOAT_FS_VFS_FILE_LOCKS_H_
#define MOAT_FS_VFS_FILE_LOCKS_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "sentry/base/error_or.h"

namespace moat::fs {

// Identifies a lock owner: a process (POSIX locks) or an open file
// description (flock, OFD locks). Only compared, never dereferenced.
using LockOwner = const void*;

// A byte range [start, end); end == kLockToEof means "to end of file and
// beyond" (l_len == 0).
inline constexpr uint64_t kLockToEof = UINT64_MAX;

struct RecordLock {
  LockOwner owner = nullptr;
  int pid = 0;  // Reported by F_GETLK (-1 for OFD locks, as Linux).
  bool write = false;
  uint64_t start = 0;
  uint64_t end = kLockToEof;
};

class FileLocks {
 public:
  // flock(2): kind is LOCK_SH, LOCK_EX or LOCK_UN. A conversion drops the
  // old lock before taking the new one, as Linux does. EWOULDBLOCK on
  // conflict.
  ErrorOr<void> Flock(LockOwner owner, int kind);

  // fcntl F_SETLK: type is F_RDLCK, F_WRLCK or F_UNLCK over [start, end).
  // Replaces, splits and merges the owner's own locks as POSIX specifies.
  // EAGAIN on conflict with another owner.
  ErrorOr<void> SetRecordLock(LockOwner owner, int pid, int type,
                              uint64_t start, uint64_t end);
  // fcntl F_GETLK: the first lock of another owner that would block `type`
  // over [start, end), if any.
  std::optional<RecordLock> TestRecordLock(LockOwner owner, int type,
                                           uint64_t start, uint64_t end) const;

  // Drops every lock (flock and record) held by `owner`: a process closing
  // any fd of the inode (POSIX), or the last close of a description.
  void ReleaseAll(LockOwner owner);

  // For tests and /proc/locks.
  size_t RecordLockCount() const;

 private:
  struct FlockEntry {
    LockOwner owner;
    bool exclusive;
  };
  mutable absl::Mutex mu_;
  std::vector<FlockEntry> flocks_ ABSL_GUARDED_BY(mu_);
  std::vector<RecordLock> records_ ABSL_GUARDED_BY(mu_);
};

}  // namespace moat::fs

#endif  // MOAT_FS_VFS_FILE_LOCKS_H_
