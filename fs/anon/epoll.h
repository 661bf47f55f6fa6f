// EpollFile: the file behind epoll_create(2) — an interest list of
// (fd, file) pairs and the readiness bookkeeping epoll_wait needs. The
// waiting itself is the syscall layer's (sys_epoll.cc): it registers the
// task on ReadinessQueue(), includes HostPollFd() in the wait, and calls
// Collect() until it returns events, the deadline passes or a signal comes.
//
// How readiness is tracked (epoll(7)): every entry is a Waker registered on
// its file's ReadinessQueue and, for host-backed files, has the file's host
// fd in this instance's host epoll set (edge-triggered on the host, only to
// learn that something changed). A wake-up marks the entry "ready"
// (Linux's ready list); Collect() asks the file's Readiness() for marked
// entries only, reports them, and re-marks level-triggered ones so they are
// asked again next time. EPOLLET entries stay unmarked until the next
// wake-up; EPOLLONESHOT entries are disabled until EPOLL_CTL_MOD.
//
// Entries hold their file weakly: when the last reference to a file goes
// (its last fd is closed), the entry is dropped the next time the instance
// looks at it, as Linux drops it from every interest list on the final
// fput. An entry holds the file's wait queue strongly, so it can always
// unregister.
//
// Lock order: nest_mu (EPOLL_CTL_ADD of an epoll file only), then an
// instance's mu_, then the mu_ of instances it watches (nesting is acyclic:
// ELOOP), then locks of watched files (Pipe::mu_, EventFd::mu_), then wait
// queue locks. Entry::Wake runs under the watched file's queue lock and
// takes only this instance's queue lock (and, through it, those of
// instances watching this one), never a mu_.
#ifndef MOAT_FS_ANON_EPOLL_H_
#define MOAT_FS_ANON_EPOLL_H_

#include <sys/epoll.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <memory>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "fs/file_description.h"
#include "sentry/base/unique_fd.h"

namespace moat::fs {

class EpollFile : public FileDescription {
 public:
  // The longest chain of epoll instances watching one another (epoll_ctl(2),
  // ELOOP: "a nesting depth of epoll instances greater than 5").
  static constexpr int kMaxChain = 5;

  // `flags`: status flags (none today; EPOLL_CLOEXEC is the fd's).
  static ErrorOr<std::shared_ptr<EpollFile>> Create(int flags);
  ~EpollFile() override;

  ErrorOr<uint64_t> Read(IoContext& ctx, absl::Span<const IoVec> dst,
                         int64_t offset) override {
    return Errno{EINVAL};
  }
  ErrorOr<uint64_t> Write(IoContext& ctx, absl::Span<const IoVec> src,
                          int64_t offset) override {
    return Errno{EINVAL};
  }
  ErrorOr<struct stat> Stat() override;
  // POLLIN when an epoll_wait would return an event now.
  short Readiness(short events) override;
  std::shared_ptr<WaitQueue> ReadinessQueue() override { return queue_; }
  int HostPollFd() override { return host_epoll_.get(); }

  // EPOLL_CTL_ADD / MOD / DEL for the file open at `fd`. Arguments are
  // already checked against the fd table; the flag checks (EINVAL) are the
  // caller's. Add: EEXIST, EPERM (file cannot be polled), ELOOP. Modify and
  // Remove: ENOENT.
  ErrorOr<void> Add(int fd, const std::shared_ptr<FileDescription>& file,
                    uint32_t events, uint64_t data);
  ErrorOr<void> Modify(int fd, FileDescription* file, uint32_t events,
                       uint64_t data);
  ErrorOr<void> Remove(int fd, FileDescription* file);

  // Fills up to `max` events of ready entries, without waiting.
  int Collect(struct epoll_event* out, int max) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  class Entry;
  using Key = std::pair<int, const FileDescription*>;

  explicit EpollFile(UniqueFd host_epoll, int flags);
  // Marks entries whose host fds the host epoll reported.
  void DrainHost() ABSL_LOCKS_EXCLUDED(mu_);
  // Unregisters and erases an entry.
  void EraseLocked(std::map<Key, std::unique_ptr<Entry>>::iterator it,
                   bool file_alive) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The epoll instances this one watches (alive ones).
  std::vector<std::shared_ptr<EpollFile>> Children() ABSL_LOCKS_EXCLUDED(mu_);
  // The longest chain of instances starting here (1 without children).
  int ChainLength();
  // Whether `target` is this instance or is watched by it, at any depth.
  bool Reaches(const EpollFile* target);

  const UniqueFd host_epoll_;
  // Notified when any entry is woken: tasks in epoll_wait and the entries
  // of instances watching this one wait here.
  const std::shared_ptr<WaitQueue> queue_ = std::make_shared<WaitQueue>();
  absl::Mutex mu_;
  std::map<Key, std::unique_ptr<Entry>> entries_ ABSL_GUARDED_BY(mu_);
  // How many entries share each host fd in host_epoll_ (a host file dup'd
  // into two application fds has one host fd).
  std::map<int, int> host_fd_users_ ABSL_GUARDED_BY(mu_);
  // Where the last Collect stopped reporting: the next one starts after it,
  // so that level-triggered entries cannot starve the others (Linux moves
  // reported entries to the end of its ready list).
  Key cursor_ ABSL_GUARDED_BY(mu_) = {-1, nullptr};
};

}  // namespace moat::fs

#endif  // MOAT_FS_ANON_EPOLL_H_
