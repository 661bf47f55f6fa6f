// Plain value types shared by the VFS and every file system: who is asking
// (Creds), what an inode looks like (InodeAttr), what to change
// (SetAttrRequest), and Linux's limits on names and paths. Nothing here
// locks or allocates beyond std::vector/std::string.
#ifndef MOAT_FS_VFS_VFS_TYPES_H_
#define MOAT_FS_VFS_VFS_TYPES_H_

#include <sys/stat.h>
#include <time.h>

#include <cstdint>
#include <string>
#include <vector>

namespace moat::fs {

// Linux's limits (include/uapi/linux/limits.h): a component is at most
// NAME_MAX bytes, a path (with its NUL) at most PATH_MAX, and one lookup
// follows at most 40 symlinks (MAXSYMLINKS).
inline constexpr size_t kNameMax = 255;
inline constexpr size_t kPathMax = 4096;
inline constexpr int kMaxSymlinks = 40;

// The credentials a file operation is checked against. Path operations use
// the fs uid/gid (== effective ids; Moat has no setfsuid), access(2) the
// real ones.
struct Creds {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> groups;  // Supplementary groups.

  // uid 0 holds CAP_DAC_OVERRIDE, CAP_FOWNER and CAP_CHOWN in Moat (no
  // capability sets yet).
  bool privileged() const { return uid == 0; }
  bool InGroup(uint32_t g) const;
};

// Permission bits requested of an inode (Linux's MAY_*).
inline constexpr int kMayExec = 1;
inline constexpr int kMayWrite = 2;
inline constexpr int kMayRead = 4;

struct InodeAttr {
  uint64_t ino = 0;
  uint64_t dev = 0;  // st_dev: the file system's device number.
  mode_t mode = 0;   // Type and permission bits.
  uint64_t nlink = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t rdev = 0;
  uint64_t size = 0;
  uint64_t blocks = 0;  // 512-byte units, as st_blocks.
  uint32_t blksize = 4096;
  struct timespec atime = {}, mtime = {}, ctime = {}, btime = {};
};

// One setattr call: chmod, chown, truncate and utimes are all this, so a
// remote file system can send them as one message.
struct SetAttrRequest {
  enum : uint32_t {
    kMode = 1,
    kUid = 2,
    kGid = 4,
    kSize = 8,
    kAtime = 16,
    kMtime = 32,
    kCtime = 64,
  };
  uint32_t mask = 0;
  mode_t mode = 0;  // Permission bits only.
  uint32_t uid = 0, gid = 0;
  uint64_t size = 0;
  struct timespec atime = {}, mtime = {}, ctime = {};
};

// One directory entry as readdir reports it. `next` is the cookie that
// resumes iteration after this entry (getdents64's d_off).
struct DirEntry {
  std::string name;
  uint64_t ino = 0;
  uint8_t type = 0;  // DT_*.
  uint64_t next = 0;
};

// The current time as file timestamps use it (CLOCK_REALTIME).
struct timespec NowTimespec();
// DT_* for a mode's file type.
uint8_t DirentType(mode_t mode);

}  // namespace moat::fs

#endif  // MOAT_FS_VFS_VFS_TYPES_H_
