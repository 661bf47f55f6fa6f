// Kernel-internal file access for mmap and execve: reading a file's bytes
// into sentry memory, and the Mappable that backs file mappings with a VFS
// file (Linux's vm_file). Works for any file system: one that keeps its
// data in the MemoryFile (tmpfs) offers its pages directly; any other is
// read through Inode::Read into a scratch address space, so the gofer root
// needs nothing extra to be mapped privately or exec'd.
#ifndef MOAT_SENTRY_KERNEL_FILE_MAPPABLE_H_
#define MOAT_SENTRY_KERNEL_FILE_MAPPABLE_H_

#include <cstdint>
#include <memory>

#include "fs/vfs/vfs_file.h"
#include "sentry/base/error_or.h"
#include "sentry/mm/mappable.h"
#include "sentry/mm/memory_file.h"

namespace moat {

// Reads up to `len` bytes of `inode` at `offset` into `dst` (pread
// semantics: short only at EOF). Must be called without MemoryManager
// locks held (file systems lock their data first).
ErrorOr<uint64_t> ReadFileToSentry(MemoryFile& mf, fs::Inode& inode,
                                   uint64_t offset, uint8_t* dst, uint64_t len);

// A regular file mapped with mmap(2). Holds the open file description, as
// Linux's vma->vm_file does, so the file stays open while mapped.
class FileMappable : public Mappable {
 public:
  FileMappable(MemoryFile& mf, std::shared_ptr<fs::VfsFile> file)
      : mf_(mf), file_(std::move(file)) {}

  ErrorOr<uint64_t> ReadPages(uint64_t offset, uint8_t* dst,
                              uint64_t len) override;
  ErrorOr<uint64_t> TranslateShared(uint64_t offset) override;

  // Whether MAP_SHARED mappings of this file are possible (its file system
  // shares its pages).
  bool CanMapShared() const;

 private:
  MemoryFile& mf_;
  const std::shared_ptr<fs::VfsFile> file_;
};

}  // namespace moat

#endif  // MOAT_SENTRY_KERNEL_FILE_MAPPABLE_H_
