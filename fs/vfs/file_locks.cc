#include "fs/vfs/file_locks.h"

#include <fcntl.h>
#include <sys/file.h>

#include <algorithm>

namespace moat::fs {
namespace {

bool Overlaps(const RecordLock& l, uint64_t start, uint64_t end) {
  return l.start < end && start < l.end;
}

}  // namespace

ErrorOr<void> FileLocks::Flock(LockOwner owner, int kind) {
  absl::MutexLock lock(&mu_);
  auto mine = std::find_if(flocks_.begin(), flocks_.end(),
                           [&](const FlockEntry& e) { return e.owner == owner; });
  if (kind == LOCK_UN) {
    if (mine != flocks_.end()) flocks_.erase(mine);
    return {};
  }
  bool exclusive = kind == LOCK_EX;
  if (mine != flocks_.end()) {
    if (mine->exclusive == exclusive) return {};
    flocks_.erase(mine);  // flock(2): conversion is not atomic.
  }
  for (const FlockEntry& e : flocks_) {
    if (exclusive || e.exclusive) return Errno{EWOULDBLOCK};
  }
  flocks_.push_back({owner, exclusive});
  return {};
}

ErrorOr<void> FileLocks::SetRecordLock(LockOwner owner, int pid, int type,
                                       uint64_t start, uint64_t end) {
  absl::MutexLock lock(&mu_);
  bool write = type == F_WRLCK;
  if (type != F_UNLCK) {
    for (const RecordLock& l : records_) {
      if (l.owner != owner && Overlaps(l, start, end) && (write || l.write)) {
        return Errno{EAGAIN};
      }
    }
  }
  // Carve [start, end) out of the owner's locks, keeping what lies outside.
  std::vector<RecordLock> kept;
  kept.reserve(records_.size() + 2);
  for (const RecordLock& l : records_) {
    if (l.owner != owner || !Overlaps(l, start, end)) {
      kept.push_back(l);
      continue;
    }
    if (l.start < start) {
      RecordLock left = l;
      left.end = start;
      kept.push_back(left);
    }
    if (l.end > end) {
      RecordLock right = l;
      right.start = end;
      kept.push_back(right);
    }
  }
  if (type != F_UNLCK) {
    RecordLock added{owner, pid, write, start, end};
    // Merge with adjacent locks of the same owner and type (POSIX: the
    // result is one lock, and F_GETLK reports it whole).
    std::vector<RecordLock> merged;
    merged.reserve(kept.size() + 1);
    for (const RecordLock& l : kept) {
      if (l.owner == owner && l.write == write &&
          (l.end == added.start || l.start == added.end)) {
        added.start = std::min(added.start, l.start);
        added.end = std::max(added.end, l.end);
      } else {
        merged.push_back(l);
      }
    }
    merged.push_back(added);
    kept = std::move(merged);
  }
  records_ = std::move(kept);
  return {};
}

std::optional<RecordLock> FileLocks::TestRecordLock(LockOwner owner, int type,
                                                    uint64_t start,
                                                    uint64_t end) const {
  absl::MutexLock lock(&mu_);
  bool write = type == F_WRLCK;
  for (const RecordLock& l : records_) {
    if (l.owner != owner && Overlaps(l, start, end) && (write || l.write)) {
      return l;
    }
  }
  return std::nullopt;
}

void FileLocks::ReleaseAll(LockOwner owner) {
  absl::MutexLock lock(&mu_);
  std::erase_if(flocks_, [&](const FlockEntry& e) { return e.owner == owner; });
  std::erase_if(records_,
                [&](const RecordLock& l) { return l.owner == owner; });
}

size_t FileLocks::RecordLockCount() const {
  absl::MutexLock lock(&mu_);
  return records_.size();
}

}  // namespace moat::fs
