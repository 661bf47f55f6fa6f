// The VFS operations behind the file syscalls: open, create, remove,
// link, rename and attribute changes on paths. Each resolves its path(s)
// with path_walk.h, checks permissions (permissions.h) and Linux's rules
// for the operation (man 2 open, mkdir, unlink, rename...), then calls the
// inode of the directory concerned under its file system's tree_mu().
//
// Errors are Linux's errno for the same situation. Nothing here touches
// application memory: the syscall layer copies paths in and results out.
#ifndef MOAT_FS_VFS_OPERATIONS_H_
#define MOAT_FS_VFS_OPERATIONS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <string_view>

#include "fs/vfs/path_walk.h"
#include "fs/vfs/vfs_file.h"

namespace moat::fs {

// open(2)/openat2(2). `flags` are the open flags as given; `mode` the
// creation mode with the umask already applied. Returns the new
// description (flags kept: access mode, status flags, O_PATH).
ErrorOr<std::shared_ptr<VfsFile>> OpenAt(const LookupContext& ctx,
                                         const VirtualPath& start,
                                         std::string_view path, int flags,
                                         mode_t mode);

// mkdir(2) and mknod(2): `mode` holds the type (S_IFDIR, S_IFREG, S_IFCHR,
// ...) and the permission bits with the umask applied.
ErrorOr<void> MknodAt(const LookupContext& ctx, const VirtualPath& start,
                      std::string_view path, mode_t mode, uint64_t rdev);
ErrorOr<void> SymlinkAt(const LookupContext& ctx, std::string_view target,
                        const VirtualPath& start, std::string_view path);
// link(2): `old` is already resolved (following or not, per AT_SYMLINK_FOLLOW).
ErrorOr<void> LinkAt(const LookupContext& ctx, const VirtualPath& old,
                     const VirtualPath& start, std::string_view path);
// unlink(2) (`rmdir` false) and rmdir(2).
ErrorOr<void> UnlinkAt(const LookupContext& ctx, const VirtualPath& start,
                       std::string_view path, bool rmdir);
// renameat2(2) with RENAME_NOREPLACE / RENAME_EXCHANGE.
ErrorOr<void> RenameAt(const LookupContext& ctx, const VirtualPath& old_start,
                       std::string_view old_path, const VirtualPath& new_start,
                       std::string_view new_path, unsigned flags);

// readlink(2) of a resolved path: EINVAL unless it is a symlink.
ErrorOr<std::string> ReadLink(const VirtualPath& vp);

// Attribute changes on a resolved file, with Linux's permission rules.
// chmod(2): owner or privileged.
ErrorOr<void> Chmod(const Creds& creds, const VirtualPath& vp, mode_t mode);
// chown(2): uid/gid of -1 leave that id unchanged.
ErrorOr<void> Chown(const Creds& creds, const VirtualPath& vp, uint32_t uid,
                    uint32_t gid);
// truncate(2) by path (`check_write`: needs write permission) or ftruncate
// (the fd was checked instead).
ErrorOr<void> Truncate(const Creds& creds, const VirtualPath& vp,
                       uint64_t size, bool check_write);
// utimensat(2): each time may be UTIME_NOW or UTIME_OMIT in tv_nsec;
// `times` nullptr means both now.
ErrorOr<void> Utimes(const Creds& creds, const VirtualPath& vp,
                     const struct timespec* times);
// access(2) mode bits (R_OK|W_OK|X_OK; F_OK is 0).
ErrorOr<void> Access(const Creds& creds, const VirtualPath& vp, int mode);

}  // namespace moat::fs

#endif  // MOAT_FS_VFS_OPERATIONS_H_
