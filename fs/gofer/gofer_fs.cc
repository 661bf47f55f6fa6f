#include "fs/gofer/gofer_fs.h"

#include <string>

#include "fs/gofer/gofer_inode.h"

namespace moat::fs {

ErrorOr<std::shared_ptr<GoferFs>> GoferFs::Create(
    std::shared_ptr<gofer::GoferClient> client) {
  gofer::HandleAndStat root = TRY(client->Attach());
  if (!S_ISDIR(root.stat.st_mode)) {
    client->Close(absl::MakeConstSpan(&root.handle, 1)).ok();
    return Errno{ENOTDIR};
  }
  std::shared_ptr<GoferFs> fs(new GoferFs(std::move(client)));
  fs->SetRoot(fs->InodeFor(root));
  return fs;
}

GoferFs::~GoferFs() {
  // Dentries pin inodes; dropping them releases the handles into the
  // batch, sent here in one go (the root's follows when the base class
  // drops it, from ~GoferConnection). A dead gofer just fails the Close.
  ClearCache();
  conn_->FlushCloses();
}

GoferConnection::~GoferConnection() { FlushCloses(); }

ErrorOr<struct statfs> GoferFs::StatFs() {
  auto& root_inode = static_cast<GoferInode&>(root()->inode());
  return client().StatFs(root_inode.handle());
}

ErrorOr<void> GoferFs::SyncFs() {
  conn_->FlushCloses();
  return {};
}

std::shared_ptr<GoferInode> GoferFs::InodeFor(const gofer::HandleAndStat& hs) {
  GoferConnection::Identity id{hs.stat.st_dev, hs.stat.st_ino};
  // Declared outside the lock: if it ends up holding the last reference,
  // the inode's destructor (which takes inodes_mu_) runs after unlocking.
  std::shared_ptr<GoferInode> existing;
  {
    absl::MutexLock lock(&conn_->inodes_mu_);
    auto it = conn_->inodes_.find(id);
    if (it != conn_->inodes_.end()) existing = it->second.lock();
    // The file type of a live identity cannot change; a mismatch means the
    // number was reused behind our back (a non-exclusive change), so the
    // new file gets a new inode.
    if (existing == nullptr || existing->type() != (hs.stat.st_mode & S_IFMT)) {
      auto made = std::make_shared<GoferInode>(*this, hs);
      conn_->inodes_[id] = made;
      return made;
    }
  }
  conn_->ReleaseHandle(hs.handle);
  existing->UpdateFromHost(hs.stat);
  return existing;
}

void GoferConnection::ForgetIdentity(const GoferInode& inode) {
  // Outside the lock for the same reason as in InodeFor.
  std::shared_ptr<GoferInode> live;
  absl::MutexLock lock(&inodes_mu_);
  auto it = inodes_.find(Identity{inode.host_dev(), inode.ino()});
  if (it == inodes_.end()) return;
  live = it->second.lock();
  // Only this inode's entry (or a dead one): a newer inode may already hold
  // the number.
  if (live == nullptr || live.get() == &inode) inodes_.erase(it);
}

ErrorOr<std::vector<std::shared_ptr<Inode>>> GoferFs::LookupInodes(
    Inode& dir, absl::Span<const std::string_view> names) {
  auto& gdir = static_cast<GoferInode&>(dir);
  std::vector<std::string> components(names.begin(), names.end());
  gofer::WalkResult walk = TRY(client().Walk(gdir.handle(), components));
  std::vector<std::shared_ptr<Inode>> out;
  out.reserve(walk.walked.size());
  for (const gofer::HandleAndStat& hs : walk.walked) {
    out.push_back(InodeFor(hs));
  }
  if (out.empty()) {
    switch (walk.stop) {
      case gofer::WalkResponse::MISSING:
        return Errno{ENOENT};
      case gofer::WalkResponse::ERROR:
        return Errno{walk.stop_error > 0 ? walk.stop_error : EIO};
      default:
        // A walk of at least one name that walked nothing and reports no
        // reason is a protocol violation.
        return Errno{EIO};
    }
  }
  return out;
}

void GoferConnection::ReleaseHandle(gofer::GoferHandle handle) {
  bool flush;
  {
    absl::MutexLock lock(&close_mu_);
    pending_close_.push_back(handle);
    flush = pending_close_.size() >= kCloseBatch;
  }
  if (flush) FlushCloses();
}

void GoferConnection::FlushCloses() {
  std::vector<gofer::GoferHandle> batch;
  {
    absl::MutexLock lock(&close_mu_);
    batch.swap(pending_close_);
  }
  if (batch.empty()) return;
  // Closing is best effort: a dead gofer has released everything anyway.
  client_->Close(batch).ok();
}

}  // namespace moat::fs
