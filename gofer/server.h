// GoferServer: serves one host directory tree to the sentry over the gofer
// protocol (gofer/proto/gofer.proto), one thread per channel socket.
//
// It may not resolve a path: every host call is an *at() call on a held fd,
// with a single validated name component and O_NOFOLLOW /
// AT_SYMLINK_NOFOLLOW, or a reopen of a held fd through a /proc/self/fd
// directory fd it opened itself. Nothing a peer sends may crash or abort it:
// a malformed message gets an error response, a broken channel is closed with
// a log line, and the other channels keep serving.
//
// Lock order: threads_mu_ and handles_mu_ are never held together; neither
// is held across a host call (a request pins the nodes it uses with a
// shared_ptr, so a concurrent Close cannot close an fd in use).
#ifndef MOAT_GOFER_SERVER_H_
#define MOAT_GOFER_SERVER_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "gofer/gofer.pb.h"
#include "sentry/base/unique_fd.h"

namespace moat::gofer {

struct GoferServerOptions {
  // Refuse every mutation (and opening for write or O_TRUNC) with EROFS.
  bool read_only = false;
  // Most handles held at once; more is ENFILE.
  size_t max_handles = 1 << 16;
  // A directory fd for /proc/self/fd, used to reopen held O_PATH fds. When
  // invalid, the server opens "/proc/self/fd" itself at Create (so callers
  // that chroot must open it beforehand).
  UniqueFd proc_self_fd;
};

class GoferServer {
 public:
  // `root` is the served directory (any fd type; it is reopened O_PATH).
  static absl::StatusOr<std::unique_ptr<GoferServer>> Create(
      UniqueFd root, GoferServerOptions options);

  GoferServer(const GoferServer&) = delete;
  GoferServer& operator=(const GoferServer&) = delete;
  // Stops and joins every channel thread.
  ~GoferServer();

  // Serves `channel` on a new thread until the peer closes it or Stop().
  void AddChannel(UniqueFd channel) ABSL_LOCKS_EXCLUDED(threads_mu_);

  // Serves `channel` on the calling thread until the peer closes it (or
  // Stop()). Returns after closing it.
  void ServeChannel(UniqueFd channel);

  // Blocks until every channel added with AddChannel has closed.
  void Wait() ABSL_LOCKS_EXCLUDED(threads_mu_);

  // Shuts every channel down (shutdown(2) wakes their threads) and joins.
  void Stop() ABSL_LOCKS_EXCLUDED(threads_mu_);

  // Answers one request; `fd_out` receives the fd to donate, if any. Public
  // for tests and fuzzing; the channel loop is its only other caller.
  Response Handle(const Request& request, UniqueFd* fd_out);

  size_t handle_count() const ABSL_LOCKS_EXCLUDED(handles_mu_);

 private:
  // A held O_PATH fd. Shared so that Close racing with a request on another
  // channel cannot close the fd under it.
  struct Node {
    UniqueFd fd;
    mode_t type;  // st_mode & S_IFMT at the time it was walked.
  };
  using NodeRef = std::shared_ptr<const Node>;

  GoferServer(UniqueFd root, UniqueFd proc_self_fd, GoferServerOptions options);

  // Handle table.
  NodeRef Lookup(uint64_t handle) const ABSL_LOCKS_EXCLUDED(handles_mu_);
  // Stores `fd`; returns 0 with the handle (and its node when `node` is not
  // null), or ENFILE when the table is full.
  int Insert(UniqueFd fd, mode_t type, uint64_t* handle, NodeRef* node)
      ABSL_LOCKS_EXCLUDED(handles_mu_);
  void Remove(uint64_t handle) ABSL_LOCKS_EXCLUDED(handles_mu_);

  // Opens the inode behind `node` anew with `flags` through /proc/self/fd
  // (open(2) of a magic link reaches the very inode the fd refers to, without
  // resolving any path in the served tree). Returns the fd or -errno.
  int Reopen(const Node& node, int flags) const;
  // Stores an O_PATH fd for the file `fd` refers to, and stats it.
  int InsertSameInode(int fd, HandleStat* out);
  // Opens dir/name O_PATH|O_NOFOLLOW, stats it and stores it.
  int InsertChild(const Node& dir, const std::string& name, HandleStat* out,
                  NodeRef* node);
  // fchownat(2) with AT_EMPTY_PATH, when the request carries an owner.
  static int ApplyOwner(int fd, bool has_owner, const Owner& owner);
  // After mkdir/mknod/symlink created dir/name: stores a handle for it and
  // applies the owner. On failure removes both the handle and the new file
  // (unlinkat with `unlink_flags`), so a failed request leaves nothing.
  int AdoptNewChild(const Node& dir, const std::string& name, bool has_owner,
                    const Owner& owner, int unlink_flags, HandleStat* out);

  // One handler per operation; each returns 0 or an errno.
  int DoAttach(AttachResponse* out);
  int DoWalk(const WalkRequest& req, WalkResponse* out);
  int DoStat(const StatRequest& req, StatResponse* out);
  int DoStatFs(const StatFsRequest& req, StatFsResponse* out);
  int DoOpen(const OpenRequest& req, UniqueFd* fd_out);
  int DoCreate(const CreateRequest& req, CreateResponse* out, UniqueFd* fd_out);
  int DoMkdir(const MkdirRequest& req, NewFileResponse* out);
  int DoMknod(const MknodRequest& req, NewFileResponse* out);
  int DoSymlink(const SymlinkRequest& req, NewFileResponse* out);
  int DoLink(const LinkRequest& req, LinkResponse* out);
  int DoUnlink(const UnlinkRequest& req);
  int DoRename(const RenameRequest& req);
  int DoGetdents(const GetdentsRequest& req, GetdentsResponse* out);
  int DoReadlink(const ReadlinkRequest& req, ReadlinkResponse* out);
  int DoSetStat(const SetStatRequest& req, SetStatResponse* out);
  int DoFsync(const FsyncRequest& req);
  int DoClose(const CloseRequest& req);

  const UniqueFd root_;           // O_PATH directory.
  const UniqueFd proc_self_fd_;   // /proc/self/fd directory.
  const GoferServerOptions options_;

  mutable absl::Mutex handles_mu_;
  absl::flat_hash_map<uint64_t, NodeRef> handles_ ABSL_GUARDED_BY(handles_mu_);
  uint64_t next_handle_ ABSL_GUARDED_BY(handles_mu_) = 1;

  absl::Mutex threads_mu_;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(threads_mu_);
  std::vector<int> channel_fds_ ABSL_GUARDED_BY(threads_mu_);  // For Stop.
  bool stopping_ ABSL_GUARDED_BY(threads_mu_) = false;
};

}  // namespace moat::gofer

#endif  // MOAT_GOFER_SERVER_H_
