#include "fs/fd_table.h"

namespace moat::fs {

ErrorOr<std::shared_ptr<FileDescription>> FdTable::Get(int fd) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = fds_.find(fd);
  if (it == fds_.end()) return Errno{EBADF};
  return it->second.file;
}

ErrorOr<int> FdTable::Add(std::shared_ptr<FileDescription> file, bool cloexec,
                          int min_fd, uint64_t limit) {
  absl::MutexLock lock(&mu_);
  int fd = min_fd;
  for (auto it = fds_.lower_bound(min_fd); it != fds_.end() && it->first == fd;
       ++it) {
    ++fd;
  }
  if (static_cast<uint64_t>(fd) >= limit) return Errno{EMFILE};
  fds_[fd] = Entry{std::move(file), cloexec};
  return fd;
}

std::shared_ptr<FileDescription> FdTable::Set(
    int fd, std::shared_ptr<FileDescription> file, bool cloexec) {
  absl::MutexLock lock(&mu_);
  Entry& e = fds_[fd];
  std::shared_ptr<FileDescription> old = std::move(e.file);
  e = Entry{std::move(file), cloexec};
  return old;  // Released by the caller, outside the lock.
}

std::vector<std::shared_ptr<FileDescription>> FdTable::CloseRange(int first,
                                                                  int last) {
  std::vector<std::shared_ptr<FileDescription>> closed;
  absl::MutexLock lock(&mu_);
  auto it = fds_.lower_bound(first);
  while (it != fds_.end() && it->first <= last) {
    closed.push_back(std::move(it->second.file));
    it = fds_.erase(it);
  }
  return closed;
}

std::vector<std::shared_ptr<FileDescription>> FdTable::TakeCloexec() {
  std::vector<std::shared_ptr<FileDescription>> closed;
  absl::MutexLock lock(&mu_);
  for (auto it = fds_.begin(); it != fds_.end();) {
    if (it->second.cloexec) {
      closed.push_back(std::move(it->second.file));
      it = fds_.erase(it);
    } else {
      ++it;
    }
  }
  return closed;
}

void FdTable::SetCloexecRange(int first, int last) {
  absl::MutexLock lock(&mu_);
  for (auto it = fds_.lower_bound(first); it != fds_.end() && it->first <= last;
       ++it) {
    it->second.cloexec = true;
  }
}

ErrorOr<void> FdTable::Close(int fd) {
  std::shared_ptr<FileDescription> old;
  absl::MutexLock lock(&mu_);
  auto it = fds_.find(fd);
  if (it == fds_.end()) return Errno{EBADF};
  old = std::move(it->second.file);
  fds_.erase(it);
  return {};
}

ErrorOr<bool> FdTable::GetCloexec(int fd) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = fds_.find(fd);
  if (it == fds_.end()) return Errno{EBADF};
  return it->second.cloexec;
}

ErrorOr<void> FdTable::SetCloexec(int fd, bool cloexec) {
  absl::MutexLock lock(&mu_);
  auto it = fds_.find(fd);
  if (it == fds_.end()) return Errno{EBADF};
  it->second.cloexec = cloexec;
  return {};
}

std::shared_ptr<FdTable> FdTable::Copy() const {
  auto copy = std::make_shared<FdTable>();
  absl::ReaderMutexLock lock(&mu_);
  copy->fds_ = fds_;
  return copy;
}

int FdTable::Count() const {
  absl::ReaderMutexLock lock(&mu_);
  return static_cast<int>(fds_.size());
}

}  // namespace moat::fs
