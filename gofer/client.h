// GoferClient: the sentry's side of the gofer protocol
// (gofer/proto/gofer.proto). Thread-safe; requests go out on a pool of
// channels, so concurrent requests do not wait for one another while a free
// channel remains.
//
// Every method returns ErrorOr with errno semantics for the syscall layer.
// It may never hang on the gofer: a channel that reaches EOF, ECONNRESET, a
// malformed or mismatched response, unexpected fds, or the per-request
// timeout is closed and the call fails with EIO; once every channel is gone,
// every call fails with EIO at once. Fds received are owned by UniqueFd;
// fds a response should not carry are closed.
//
// Lock order: mu_ only; it is never held while talking to the gofer.
#ifndef MOAT_GOFER_CLIENT_H_
#define MOAT_GOFER_CLIENT_H_

#include <sys/stat.h>
#include <sys/vfs.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "gofer/gofer.pb.h"
#include "sentry/base/error_or.h"
#include "sentry/base/unique_fd.h"

namespace moat::gofer {

// A gofer-side handle: an fd the gofer holds. Release with Close.
using GoferHandle = uint64_t;

struct HandleAndStat {
  GoferHandle handle = 0;
  struct stat stat {};
};

struct WalkResult {
  std::vector<HandleAndStat> walked;  // One per component walked.
  WalkResponse::Stop stop = WalkResponse::DONE;
  size_t stop_index = 0;  // The component the walk stopped at.
  int stop_error = 0;     // For MISSING (ENOENT) and ERROR.
};

struct CreateResult {
  HandleAndStat file;
  UniqueFd fd;  // The open host file.
};

struct DirEntry {
  std::string name;
  uint64_t ino = 0;
  uint8_t type = 0;  // DT_*.
  int64_t next_offset = 0;
};

// Fields to change in SetStat; unset ones stay as they are. Times take
// UTIME_NOW / UTIME_OMIT in tv_nsec, as utimensat(2).
struct SetStatFields {
  std::optional<mode_t> mode;
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  std::optional<off_t> size;
  std::optional<timespec> atime;
  std::optional<timespec> mtime;
};

// Owner of a new file; nullopt leaves it to the gofer's credentials.
struct NewOwner {
  uid_t uid;
  gid_t gid;
};

class GoferClient {
 public:
  static constexpr absl::Duration kDefaultTimeout = absl::Seconds(30);

  // Takes the client ends of the channels. `timeout` bounds each request's
  // wait for its response: a backstop, since a dead gofer is seen at once
  // by EOF on the socket.
  explicit GoferClient(std::vector<UniqueFd> channels,
                       absl::Duration timeout = kDefaultTimeout);
  GoferClient(const GoferClient&) = delete;
  GoferClient& operator=(const GoferClient&) = delete;
  ~GoferClient();

  ErrorOr<HandleAndStat> Attach();
  // Walks `names` (single components) from directory `dir`.
  ErrorOr<WalkResult> Walk(GoferHandle dir, absl::Span<const std::string> names);
  ErrorOr<struct stat> Stat(GoferHandle handle);
  ErrorOr<struct statfs> StatFs(GoferHandle handle);
  // A host fd (O_CLOEXEC) for a regular file; an invalid UniqueFd for a
  // directory. `flags`: the access mode and O_TRUNC, O_APPEND, O_NONBLOCK,
  // O_SYNC, O_DSYNC, O_DIRECT, O_NOATIME, O_LARGEFILE; anything else is
  // EINVAL (the sentry strips what only concerns its own fd table).
  ErrorOr<UniqueFd> Open(GoferHandle handle, int flags);
  // O_CREAT | O_EXCL semantics; `flags` as for Open.
  ErrorOr<CreateResult> Create(GoferHandle dir, const std::string& name,
                               int flags, mode_t mode,
                               std::optional<NewOwner> owner = std::nullopt);
  ErrorOr<HandleAndStat> Mkdir(GoferHandle dir, const std::string& name,
                               mode_t mode,
                               std::optional<NewOwner> owner = std::nullopt);
  // Regular files and FIFOs only (mode carries the type).
  ErrorOr<HandleAndStat> Mknod(GoferHandle dir, const std::string& name,
                               mode_t mode,
                               std::optional<NewOwner> owner = std::nullopt);
  ErrorOr<HandleAndStat> Symlink(GoferHandle dir, const std::string& name,
                                 const std::string& target,
                                 std::optional<NewOwner> owner = std::nullopt);
  // Returns the target's stat after linking.
  ErrorOr<struct stat> Link(GoferHandle target, GoferHandle dir,
                            const std::string& name);
  // flags: 0 or AT_REMOVEDIR.
  ErrorOr<void> Unlink(GoferHandle dir, const std::string& name, int flags);
  // flags: renameat2(2)'s RENAME_NOREPLACE / RENAME_EXCHANGE.
  ErrorOr<void> Rename(GoferHandle old_dir, const std::string& old_name,
                       GoferHandle new_dir, const std::string& new_name,
                       unsigned flags);
  // Entries from `offset` (0 or an entry's next_offset); empty at the end.
  ErrorOr<std::vector<DirEntry>> Getdents(GoferHandle dir, int64_t offset,
                                          uint32_t max_entries = 0);
  ErrorOr<std::string> Readlink(GoferHandle handle);
  ErrorOr<struct stat> SetStat(GoferHandle handle, const SetStatFields& fields);
  ErrorOr<void> Fsync(GoferHandle handle, bool datasync);
  ErrorOr<void> Close(absl::Span<const GoferHandle> handles);

  // Channels still usable.
  size_t live_channels() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Channel {
    UniqueFd fd;
    uint64_t next_id = 1;
  };

  // Sends `request` and waits for its response. `want_fd`: the response to
  // this operation may carry one fd (Open, Create), returned in `fd`.
  ErrorOr<Response> Call(Request& request, bool want_fd, UniqueFd* fd);
  // Mkdir/Mknod: sends `request`, expects a NewFileResponse.
  ErrorOr<HandleAndStat> NewNodeCall(Request& request);
  ErrorOr<Response> CallOn(Channel& ch, Request& request, bool want_fd,
                           UniqueFd* fd);
  // Takes a free channel, waiting while all live ones are busy; nullptr
  // when none is left.
  Channel* Acquire() ABSL_LOCKS_EXCLUDED(mu_);
  void ReleaseChannel(Channel* ch, bool broken) ABSL_LOCKS_EXCLUDED(mu_);

  const absl::Duration timeout_;
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Channel>> channels_;  // Fixed after the ctor.
  std::vector<Channel*> free_ ABSL_GUARDED_BY(mu_);
  size_t live_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace moat::gofer

#endif  // MOAT_GOFER_CLIENT_H_
