// Permission checks on inodes, as Linux's generic_permission and friends:
// mode bits against the caller's uid/gid, with uid 0 standing in for
// CAP_DAC_OVERRIDE (read/write anything, search any directory, execute a
// file only if some execute bit is set) and CAP_FOWNER. Pure functions: no
// locks, no I/O.
#ifndef MOAT_FS_VFS_PERMISSIONS_H_
#define MOAT_FS_VFS_PERMISSIONS_H_

#include "fs/vfs/vfs_types.h"
#include "sentry/base/error_or.h"

namespace moat::fs {

// EACCES unless `creds` may access `attr` with `may` (kMayRead|kMayWrite|
// kMayExec).
ErrorOr<void> CheckPermission(const Creds& creds, const InodeAttr& attr,
                              int may);

// Whether `creds` owns `attr` or is privileged (chmod, utimes to explicit
// times, sticky-bit deletion: Linux's inode_owner_or_capable).
bool OwnerOrPrivileged(const Creds& creds, const InodeAttr& attr);

// Removing or renaming `victim` out of `dir` (after write+search on `dir`
// passed): EPERM when `dir` is sticky and the caller owns neither (Linux's
// check_sticky, inode.c may_delete).
ErrorOr<void> CheckStickyDelete(const Creds& creds, const InodeAttr& dir,
                                const InodeAttr& victim);

}  // namespace moat::fs

#endif  // MOAT_FS_VFS_PERMISSIONS_H_
