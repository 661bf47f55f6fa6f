// Path resolution (Linux's namei): from a root and a starting directory,
// through mounts, "." and "..", and symlinks, to a VirtualPath — or to the
// parent directory and the last name, for operations that create or
// remove that name.
//
// Rules mirrored from Linux (path_resolution(7), openat2(2)):
//  * search (exec) permission on every directory traversed;
//  * ".." never climbs above the root and crosses from a mount's root to
//    its mountpoint; a step onto a mountpoint enters the mounted file system;
//  * at most 40 symlinks per lookup (ELOOP); a component longer than 255
//    bytes is ENAMETOOLONG (whole paths are limited when copied in);
//  * a trailing slash requires a directory and follows a final symlink;
//  * RESOLVE_NO_SYMLINKS, RESOLVE_NO_XDEV, RESOLVE_BENEATH, RESOLVE_IN_ROOT
//    (RESOLVE_NO_MAGICLINKS is accepted: there are no magic links yet).
//
// Each directory step takes the file system's tree_mu() briefly; nothing
// is held between steps, as in Linux's RCU-free walk.
#ifndef MOAT_FS_VFS_PATH_WALK_H_
#define MOAT_FS_VFS_PATH_WALK_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "fs/vfs/mount.h"
#include "fs/vfs/vfs_types.h"
#include "sentry/base/error_or.h"

namespace moat::fs {

// What one lookup runs with.
struct LookupContext {
  const MountNamespace* mounts = nullptr;
  // The process root (chroot), or for RESOLVE_BENEATH / RESOLVE_IN_ROOT the
  // directory the lookup starts from.
  VirtualPath root;
  Creds creds;
  uint64_t resolve = 0;  // RESOLVE_* flags (openat2).
};

// The parent of a path's last component.
struct ParentLookup {
  VirtualPath dir;
  // The last component: a plain name, "." or "..", or "" when the path
  // named the root itself ("/").
  std::string last;
  bool trailing_slash = false;
};

// Resolves `path` from `start` (used for relative paths). With
// `follow_final`, a final symlink is followed. `links` counts symlinks
// followed so far across calls (open(O_CREAT) re-enters after following a
// final symlink itself); nullptr for a fresh count.
ErrorOr<VirtualPath> Resolve(const LookupContext& ctx, const VirtualPath& start,
                             std::string_view path, bool follow_final,
                             int* links = nullptr);

// Resolves all but the last component of `path`.
ErrorOr<ParentLookup> ResolveParent(const LookupContext& ctx,
                                    const VirtualPath& start,
                                    std::string_view path, int* links = nullptr);

// One step from directory `dir` to `name` ("." and ".." included), with
// the search-permission check on `dir`, ".." and mount crossing. Symlinks
// are returned, not followed.
ErrorOr<VirtualPath> Step(const LookupContext& ctx, const VirtualPath& dir,
                          std::string_view name);

// For a symlink reached at `dir`/name: counts it against the limit and the
// RESOLVE_NO_SYMLINKS rule, and returns its target. Shared with open's own
// handling of a final symlink.
ErrorOr<std::string> ReadLinkForWalk(const LookupContext& ctx,
                                     const VirtualPath& link, int* links);

// The absolute path of `vp` as seen from `root` (getcwd, /proc/self/cwd).
// Paths outside `root` get Linux's "(unreachable)" prefix.
std::string PathOf(const VirtualPath& root, const VirtualPath& vp);

}  // namespace moat::fs

#endif  // MOAT_FS_VFS_PATH_WALK_H_
