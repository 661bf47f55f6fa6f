#include "fs/vfs/permissions.h"

#include <cerrno>

namespace moat::fs {

ErrorOr<void> CheckPermission(const Creds& creds, const InodeAttr& attr,
                              int may) {
  mode_t bits;
  if (creds.uid == attr.uid) {
    bits = (attr.mode >> 6) & 7;
  } else if (creds.InGroup(attr.gid)) {
    bits = (attr.mode >> 3) & 7;
  } else {
    bits = attr.mode & 7;
  }
  if ((bits & may) == static_cast<mode_t>(may)) return {};
  if (creds.privileged()) {
    // CAP_DAC_OVERRIDE: everything but executing a file nobody may execute.
    bool exec_file = (may & kMayExec) && !S_ISDIR(attr.mode);
    if (!exec_file || (attr.mode & 0111)) return {};
  }
  return Errno{EACCES};
}

bool OwnerOrPrivileged(const Creds& creds, const InodeAttr& attr) {
  return creds.uid == attr.uid || creds.privileged();
}

ErrorOr<void> CheckStickyDelete(const Creds& creds, const InodeAttr& dir,
                                const InodeAttr& victim) {
  if (!(dir.mode & S_ISVTX)) return {};
  if (creds.uid == victim.uid || creds.uid == dir.uid || creds.privileged()) {
    return {};
  }
  return Errno{EPERM};
}

}  // namespace moat::fs
