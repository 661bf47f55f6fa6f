// FdTable: an application's file descriptor table (Linux's files_struct):
// fd numbers to shared FileDescriptions plus the per-fd close-on-exec flag.
// Thread-safe; shared between threads created with CLONE_FILES.
#ifndef MOAT_FS_FD_TABLE_H_
#define MOAT_FS_FD_TABLE_H_

#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/synchronization/mutex.h"
#include "fs/file_description.h"
#include "sentry/base/error_or.h"

namespace moat::fs {

class FdTable {
 public:
  // The file at `fd`, or EBADF.
  ErrorOr<std::shared_ptr<FileDescription>> Get(int fd) const;
  // Installs `file` at the lowest free fd >= min_fd; EMFILE past `limit`
  // (RLIMIT_NOFILE).
  ErrorOr<int> Add(std::shared_ptr<FileDescription> file, bool cloexec,
                   int min_fd, uint64_t limit);
  // Installs `file` at exactly `fd`, closing what was there (dup2);
  // returns the file that was there, if any.
  std::shared_ptr<FileDescription> Set(int fd,
                                       std::shared_ptr<FileDescription> file,
                                       bool cloexec);
  // Closes `fd`; EBADF if not open.
  ErrorOr<void> Close(int fd);
  // The close-on-exec flag of `fd` (F_GETFD / F_SETFD); EBADF if not open.
  ErrorOr<bool> GetCloexec(int fd) const;
  ErrorOr<void> SetCloexec(int fd, bool cloexec);
  // A new table with the same open files (fork without CLONE_FILES).
  std::shared_ptr<FdTable> Copy() const;
  // close_range(2): removes the open fds in [first, last] and returns their
  // files (for the caller to release locks), or sets their close-on-exec
  // flag.
  std::vector<std::shared_ptr<FileDescription>> CloseRange(int first,
                                                           int last);
  void SetCloexecRange(int first, int last);
  // execve(2): removes every close-on-exec fd and returns their files (for
  // the caller to release locks).
  std::vector<std::shared_ptr<FileDescription>> TakeCloexec();
  // Number of open fds.
  int Count() const;

 private:
  struct Entry {
    std::shared_ptr<FileDescription> file;
    bool cloexec = false;
  };
  mutable absl::Mutex mu_;
  absl::btree_map<int, Entry> fds_ ABSL_GUARDED_BY(mu_);
};

}  // namespace moat::fs

#endif  // MOAT_FS_FD_TABLE_H_
