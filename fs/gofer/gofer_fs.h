// GoferFs: a file system whose tree the gofer serves (DESIGN.md §6-7), the
// sentry's side of a host directory. Metadata travels as gofer protocol
// messages through a GoferClient; regular-file data goes straight between
// host fds the gofer donated and application memory (gofer_inode.h).
//
// Caching: the mount is *exclusive* — the sandbox is the only writer of the
// served tree while it runs (the rootfs served read-only, or a directory
// given to one sandbox). So cached dentries are never revalidated, cached
// attributes are trusted and only refreshed after the sentry itself changed
// the file, and a symlink's target is read once. A tree that the host
// changes underneath would need revalidation (a later "shared" mode).
//
// Identity: one GoferInode per host file (host st_dev, st_ino), whatever
// name reached it, so hard links share attributes and file locks. Inodes
// report the host's st_dev/st_ino, so stat(1) inside agrees with the host.
//
// Gofer death: every call that needs the gofer fails with EIO (GoferClient
// never blocks on a dead peer); what is cached keeps working.
//
// What it may not do: open a host path (every host object is a gofer handle
// or an fd the gofer donated), resolve paths or check permissions (the VFS
// does), or hold inodes_mu_/close_mu_ while talking to the gofer.
//
// Lock order: Filesystem::tree_mu_ -> GoferConnection::inodes_mu_ ->
// GoferConnection::close_mu_; no GoferInode lock is held while taking
// either. The client's lock is its own
// and never held across our calls.
#ifndef MOAT_FS_GOFER_GOFER_FS_H_
#define MOAT_FS_GOFER_GOFER_FS_H_

#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "fs/vfs/filesystem.h"
#include "gofer/client.h"

namespace moat::fs {

class GoferInode;

// What inodes need from their file system for as long as any of them lives:
// the client, the identity map and the batch of handles to close. Shared by
// the GoferFs and every GoferInode, since the root inode outlives the
// GoferFs's own members (the base Filesystem drops it last).
class GoferConnection {
 public:
  // Handles released in one Close message (Linux's 9p clunks one fid per
  // message; batching saves round trips when a walk cache drains).
  static constexpr size_t kCloseBatch = 64;

  explicit GoferConnection(std::shared_ptr<gofer::GoferClient> client)
      : client_(std::move(client)) {}
  // Sends the last batch of closes.
  ~GoferConnection();

  gofer::GoferClient& client() const { return *client_; }

  // Queues a handle for the next batched Close.
  void ReleaseHandle(gofer::GoferHandle handle) ABSL_LOCKS_EXCLUDED(close_mu_);
  void FlushCloses() ABSL_LOCKS_EXCLUDED(close_mu_);

  // Drops `inode` from the identity map (its last link is gone, so the host
  // may reuse its inode number for a new file; or it is being destroyed).
  void ForgetIdentity(const GoferInode& inode) ABSL_LOCKS_EXCLUDED(inodes_mu_);

 private:
  friend class GoferFs;
  using Identity = std::pair<uint64_t, uint64_t>;  // Host st_dev, st_ino.

  const std::shared_ptr<gofer::GoferClient> client_;
  absl::Mutex inodes_mu_;
  absl::flat_hash_map<Identity, std::weak_ptr<GoferInode>> inodes_
      ABSL_GUARDED_BY(inodes_mu_);
  absl::Mutex close_mu_;
  std::vector<gofer::GoferHandle> pending_close_ ABSL_GUARDED_BY(close_mu_);
};

class GoferFs : public Filesystem {
 public:
  // Attaches to the gofer's root. EIO when the gofer is gone.
  static ErrorOr<std::shared_ptr<GoferFs>> Create(
      std::shared_ptr<gofer::GoferClient> client);
  ~GoferFs() override;

  // Linux's gofer-backed mounts show up as 9p (that is what runsc reports).
  std::string_view Name() const override { return "9p"; }
  ErrorOr<struct statfs> StatFs() override;
  // Sends the pending closes; data is written through, nothing else to do.
  ErrorOr<void> SyncFs() override;

  gofer::GoferClient& client() const { return conn_->client(); }
  const std::shared_ptr<GoferConnection>& connection() const { return conn_; }

  // The inode for a handle the gofer just returned. When the host file
  // already has an inode, the new handle is released and the existing
  // inode gets the fresh attributes.
  std::shared_ptr<GoferInode> InodeFor(const gofer::HandleAndStat& hs);

 protected:
  // Exclusive mount: a cached name always holds.
  bool Revalidate(Dentry& dir, Dentry& child) override { return true; }
  // One Walk message for all of `names`.
  ErrorOr<std::vector<std::shared_ptr<Inode>>> LookupInodes(
      Inode& dir, absl::Span<const std::string_view> names) override;

 private:
  explicit GoferFs(std::shared_ptr<gofer::GoferClient> client)
      : conn_(std::make_shared<GoferConnection>(std::move(client))) {}

  const std::shared_ptr<GoferConnection> conn_;
};

}  // namespace moat::fs

#endif  // MOAT_FS_GOFER_GOFER_FS_H_
