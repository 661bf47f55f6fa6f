// Helpers shared by the anonymous files of fs/anon (eventfd, epoll,
// timerfd): their stat(2) view and 8-byte counter transfers. Files here
// live on Linux's anon_inode pseudo file system: they have no path and are
// created only by their own syscalls. Nothing here blocks or takes a lock.
#ifndef MOAT_FS_ANON_ANON_FILE_H_
#define MOAT_FS_ANON_ANON_FILE_H_

#include <sys/stat.h>

#include <cstdint>

#include "fs/file_description.h"
#include "fs/iovec_io.h"

namespace moat::fs {

// fstat of an anon_inode file: mode 0600 with no file type bits, one link,
// a 4096-byte block size, owned by root (Linux's single shared anon inode;
// `id` keeps distinct files apart in st_ino, which Linux does not).
struct stat AnonStat(const void* id);


// Copies an 8-byte value to / from the start of `iovs`, possibly spread
// over several iovecs (eventfd and timerfd reads and writes). Callers
// check IovecLength() >= 8 first.
ErrorOr<void> CopyOutU64(IoContext& ctx, absl::Span<const IoVec> iovs,
                         uint64_t value);
ErrorOr<uint64_t> CopyInU64(IoContext& ctx, absl::Span<const IoVec> iovs);

}  // namespace moat::fs

#endif  // MOAT_FS_ANON_ANON_FILE_H_
