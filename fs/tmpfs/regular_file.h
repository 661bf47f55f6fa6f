// TmpfsFile: a tmpfs regular file whose data lives in MemoryFile pages,
// allocated on first write (holes read as zeros and show in SEEK_HOLE).
// Each page holds one MemoryFile reference owned by the file; a shared
// mmap takes its own references to the same pages (GetSharedPage), so
// writes through the mapping are the file's data. (Truncating a mapped
// file does not yet unmap its pages from the mappings: they keep the old
// pages where Linux would SIGBUS.)
//
// Locking: io_mu_ (Linux's i_rwsem) is shared by readers and exclusive for
// writers, truncation and fallocate; it guards pages_ and is taken before
// MemoryManager::mu_ (data is copied with ForEachBlock while it is held),
// which comes before attr_mu_ and MemoryFile::mu_.
#ifndef MOAT_FS_TMPFS_REGULAR_FILE_H_
#define MOAT_FS_TMPFS_REGULAR_FILE_H_

#include "absl/container/btree_map.h"
#include "fs/tmpfs/tmpfs.h"

namespace moat::fs {

class TmpfsFile : public TmpfsInode {
 public:
  TmpfsFile(Tmpfs& fs, mode_t mode, uint32_t uid, uint32_t gid)
      : TmpfsInode(fs, S_IFREG | (mode & 07777), uid, gid) {}
  ~TmpfsFile() override;

  ErrorOr<uint64_t> Read(IoContext& ctx, absl::Span<const IoVec> dst,
                         uint64_t offset) override;
  ErrorOr<uint64_t> Write(IoContext& ctx, absl::Span<const IoVec> src,
                          uint64_t* offset, bool append) override;
  ErrorOr<void> SetAttr(const SetAttrRequest& req) override;
  ErrorOr<uint64_t> SeekDataOrHole(int whence, uint64_t offset) override;
  ErrorOr<void> Allocate(int mode, uint64_t offset, uint64_t length) override;
  // Takes io_mu_ (shared / exclusive): callers hold no MemoryManager lock.
  ErrorOr<uint64_t> ReadToSentry(uint64_t offset, uint8_t* dst,
                                 uint64_t len) override;
  ErrorOr<uint64_t> GetSharedPage(uint64_t index) override;

  // Largest file size (Linux's MAX_LFS_FILESIZE would be 8 EiB; the
  // MemoryFile bounds what can actually be stored).
  static constexpr uint64_t kMaxFileSize = MemoryFile::kMaxSize;

 private:
  // The MemoryFile offset of page `index`, allocating it; ENOSPC when the
  // MemoryFile is full.
  ErrorOr<uint64_t> PageForWrite(uint64_t index)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(io_mu_);
  // Frees whole pages in [first, last) and zeroes [from, to) within kept
  // pages.
  void FreePages(uint64_t first, uint64_t last)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(io_mu_);
  void ZeroRange(uint64_t from, uint64_t to)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(io_mu_);
  void SetSizeLocked(uint64_t size) ABSL_EXCLUSIVE_LOCKS_REQUIRED(io_mu_);

  absl::Mutex io_mu_;
  // Page index -> MemoryFile offset.
  absl::btree_map<uint64_t, uint64_t> pages_ ABSL_GUARDED_BY(io_mu_);
};

}  // namespace moat::fs

#endif  // MOAT_FS_TMPFS_REGULAR_FILE_H_
