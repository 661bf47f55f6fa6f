#include "fs/anon/epoll.h"

#include <fcntl.h>
#include <poll.h>

#include <vector>

#include "fs/anon/anon_file.h"

namespace moat::fs {
namespace {

// Serialises EPOLL_CTL_ADD of epoll files, so that two concurrent adds
// cannot build a loop that each check alone would miss (Linux's epmutex).
absl::Mutex nest_mu(absl::kConstInit);

// Bits that are not events: they never show up in revents.
constexpr uint32_t kControlBits =
    EPOLLET | EPOLLONESHOT | EPOLLEXCLUSIVE | EPOLLWAKEUP;

// Host events a host fd is watched for: any change may matter to some
// entry, and edges on the host only tell us to look again.
constexpr uint32_t kHostEvents =
    EPOLLIN | EPOLLOUT | EPOLLPRI | EPOLLRDHUP | EPOLLET;

}  // namespace

class EpollFile::Entry final : public Waker {
 public:
  Entry(WaitQueue& owner_queue, std::weak_ptr<FileDescription> file,
        std::shared_ptr<WaitQueue> queue, int host_fd)
      : owner_queue_(owner_queue),
        file(std::move(file)),
        queue(std::move(queue)),
        host_fd(host_fd) {}

  // Runs under the watched file's queue lock: no other lock but the owner
  // instance's queue (see the lock order in epoll.h).
  void Wake() override {
    ready.store(true);
    owner_queue_.NotifyAll();
  }

  WaitQueue& owner_queue_;
  const std::weak_ptr<FileDescription> file;
  const std::shared_ptr<WaitQueue> queue;  // nullptr: host fd only.
  const int host_fd;                       // -1: none.
  uint32_t events = 0;                     // Guarded by the owner's mu_.
  uint64_t data = 0;                       // Guarded by the owner's mu_.
  bool disabled = false;  // EPOLLONESHOT fired; guarded by the owner's mu_.
  std::atomic<bool> ready{false};
};

ErrorOr<std::shared_ptr<EpollFile>> EpollFile::Create(int flags) {
  UniqueFd host(epoll_create1(EPOLL_CLOEXEC));
  if (!host.valid()) return Errno{errno};
  return std::shared_ptr<EpollFile>(new EpollFile(std::move(host), flags));
}

EpollFile::EpollFile(UniqueFd host_epoll, int flags)
    : FileDescription(flags | O_RDWR), host_epoll_(std::move(host_epoll)) {}

EpollFile::~EpollFile() {
  absl::MutexLock lock(&mu_);
  // The host epoll set goes with host_epoll_; only sentry queues need
  // unregistering.
  for (auto& [key, entry] : entries_) {
    if (entry->queue) entry->queue->Remove(entry.get());
  }
}

ErrorOr<struct stat> EpollFile::Stat() { return AnonStat(this); }

void EpollFile::DrainHost() {
  struct epoll_event events[64];
  bool marked = false;
  while (true) {
    int n = epoll_wait(host_epoll_.get(), events, 64, 0);
    if (n <= 0) break;
    absl::MutexLock lock(&mu_);
    for (int i = 0; i < n; ++i) {
      for (auto& [key, entry] : entries_) {
        if (entry->host_fd == events[i].data.fd) {
          entry->ready.store(true);
          marked = true;
        }
      }
    }
    if (n < 64) break;
  }
  // Someone else may be waiting on this instance's host fd, whose edge we
  // just consumed.
  if (marked) queue_->NotifyAll();
}

void EpollFile::EraseLocked(std::map<Key, std::unique_ptr<Entry>>::iterator it,
                            bool file_alive) {
  Entry& e = *it->second;
  if (e.queue) e.queue->Remove(&e);
  if (e.host_fd >= 0 && --host_fd_users_[e.host_fd] == 0) {
    host_fd_users_.erase(e.host_fd);
    // A dead file's host fd is closed already (and its number may name
    // something else now); the host dropped it from the set then.
    if (file_alive) epoll_ctl(host_epoll_.get(), EPOLL_CTL_DEL, e.host_fd, nullptr);
  }
  entries_.erase(it);
}

std::vector<std::shared_ptr<EpollFile>> EpollFile::Children() {
  std::vector<std::shared_ptr<EpollFile>> out;
  absl::MutexLock lock(&mu_);
  for (auto& [key, entry] : entries_) {
    auto f = std::dynamic_pointer_cast<EpollFile>(entry->file.lock());
    if (f) out.push_back(std::move(f));
  }
  return out;
}

int EpollFile::ChainLength() {
  int longest = 0;
  for (auto& child : Children()) longest = std::max(longest, child->ChainLength());
  return 1 + longest;
}

bool EpollFile::Reaches(const EpollFile* target) {
  if (this == target) return true;
  for (auto& child : Children()) {
    if (child->Reaches(target)) return true;
  }
  return false;
}

ErrorOr<void> EpollFile::Add(int fd, const std::shared_ptr<FileDescription>& file,
                             uint32_t events, uint64_t data) {
  if (!file->SupportsPoll()) return Errno{EPERM};
  std::optional<absl::MutexLock> nest;
  if (auto* child = dynamic_cast<EpollFile*>(file.get())) {
    nest.emplace(&nest_mu);
    // A loop, or a chain of more than kMaxChain instances, is ELOOP. Only
    // chains below this instance are counted (not instances watching it).
    if (child->Reaches(this) || 1 + child->ChainLength() > kMaxChain) {
      return Errno{ELOOP};
    }
  }
  absl::MutexLock lock(&mu_);
  Key key{fd, file.get()};
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    if (!it->second->file.expired()) return Errno{EEXIST};
    EraseLocked(it, false);  // A dead file whose address was reused.
  }
  int host_fd = file->HostPollFd();
  if (host_fd >= 0 && host_fd_users_[host_fd]++ == 0) {
    struct epoll_event ev = {};
    ev.events = kHostEvents;
    ev.data.fd = host_fd;
    if (epoll_ctl(host_epoll_.get(), EPOLL_CTL_ADD, host_fd, &ev) != 0) {
      int err = errno;
      host_fd_users_.erase(host_fd);
      return Errno{err == ENOMEM ? ENOMEM : ELOOP};
    }
  }
  auto entry = std::make_unique<Entry>(*queue_, file, file->ReadinessQueue(),
                                       host_fd);
  entry->events = events;
  entry->data = data;
  // Linux polls the file on insertion and queues it if ready; marking it
  // has the next Collect do that.
  entry->ready.store(true);
  if (entry->queue) entry->queue->Add(entry.get());
  entries_.emplace(key, std::move(entry));
  queue_->NotifyAll();
  return {};
}

ErrorOr<void> EpollFile::Modify(int fd, FileDescription* file, uint32_t events,
                                uint64_t data) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(Key{fd, file});
  if (it == entries_.end()) return Errno{ENOENT};
  Entry& e = *it->second;
  // epoll_ctl(2): EPOLLEXCLUSIVE may not be changed by MOD.
  if (e.events & EPOLLEXCLUSIVE) return Errno{EINVAL};
  e.events = events;
  e.data = data;
  e.disabled = false;
  e.ready.store(true);  // Re-polled as on insertion (ep_modify).
  queue_->NotifyAll();
  return {};
}

ErrorOr<void> EpollFile::Remove(int fd, FileDescription* file) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(Key{fd, file});
  if (it == entries_.end()) return Errno{ENOENT};
  EraseLocked(it, true);
  return {};
}

short EpollFile::Readiness(short events) {
  DrainHost();
  std::vector<std::shared_ptr<FileDescription>> keep;  // Released unlocked.
  absl::MutexLock lock(&mu_);
  for (auto& [key, e] : entries_) {
    if (!e->ready.load() || e->disabled) continue;
    auto f = e->file.lock();
    if (!f) continue;
    short want = static_cast<short>((e->events & ~kControlBits) | POLLERR | POLLHUP);
    bool ready = f->Readiness(want) & want;
    keep.push_back(std::move(f));
    if (ready) return POLLIN | POLLRDNORM;
  }
  return 0;
}

int EpollFile::Collect(struct epoll_event* out, int max) {
  DrainHost();
  // Files whose last reference is dropped here are destroyed after mu_ is
  // released (their destructors notify queues that may lead back here).
  std::vector<std::shared_ptr<FileDescription>> keep;
  absl::MutexLock lock(&mu_);
  int n = 0;
  if (entries_.empty()) return 0;
  auto it = entries_.upper_bound(cursor_);
  for (size_t visited = 0, total = entries_.size(); visited < total && n < max;
       ++visited) {
    if (it == entries_.end()) it = entries_.begin();
    Entry& e = *it->second;
    if (!e.ready.load() || e.disabled) {
      ++it;
      continue;
    }
    auto f = e.file.lock();
    if (!f) {
      auto dead = it++;
      EraseLocked(dead, false);
      continue;
    }
    e.ready.store(false);
    const uint32_t want = (e.events & ~kControlBits) | EPOLLERR | EPOLLHUP;
    const uint32_t revents =
        static_cast<uint16_t>(f->Readiness(static_cast<short>(want))) & want;
    keep.push_back(std::move(f));
    if (revents != 0) {
      out[n].events = revents;
      out[n].data.u64 = e.data;
      ++n;
      cursor_ = it->first;
      if (e.events & EPOLLONESHOT) {
        e.disabled = true;
      } else if (!(e.events & EPOLLET)) {
        e.ready.store(true);  // Level-triggered: asked again next time.
      }
    }
    ++it;
  }
  return n;
}

}  // namespace moat::fs
