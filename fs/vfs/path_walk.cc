#include "fs/vfs/path_walk.h"

#include <linux/openat2.h>

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fs/vfs/permissions.h"

namespace moat::fs {
namespace {

bool IsDots(std::string_view name) { return name == "." || name == ".."; }

ErrorOr<void> MaySearch(const LookupContext& ctx, const VirtualPath& dir) {
  if (!dir.inode().IsDir()) return Errno{ENOTDIR};
  InodeAttr attr = TRY(dir.inode().GetAttr());
  return CheckPermission(ctx.creds, attr, kMayExec);
}

// Enters whatever is mounted on `vp` (repeatedly, for stacked mounts).
ErrorOr<VirtualPath> CrossMountsDown(const LookupContext& ctx, VirtualPath vp) {
  while (true) {
    std::shared_ptr<Mount> m = ctx.mounts->MountedAt(vp);
    if (m == nullptr) return vp;
    if (ctx.resolve & RESOLVE_NO_XDEV) return Errno{EXDEV};
    vp = {m, m->root()};
  }
}

ErrorOr<VirtualPath> DotDot(const LookupContext& ctx, VirtualPath cur) {
  while (true) {
    if (cur == ctx.root) {
      // openat2(2): with RESOLVE_BENEATH, ".." out of the starting
      // directory fails; otherwise it stays at the root.
      if (ctx.resolve & RESOLVE_BENEATH) return Errno{EXDEV};
      return cur;
    }
    if (cur.dentry != cur.mount->root()) break;
    const std::optional<VirtualPath>& mp = cur.mount->mountpoint();
    if (!mp) return cur;  // The namespace root, outside a chroot.
    if (ctx.resolve & RESOLVE_NO_XDEV) return Errno{EXDEV};
    cur = *mp;
  }
  std::shared_ptr<Dentry> parent;
  {
    absl::MutexLock lock(&cur.dentry->fs().tree_mu());
    parent = cur.dentry->parent();
  }
  if (parent == nullptr) return cur;
  return CrossMountsDown(ctx, {cur.mount, std::move(parent)});
}

// Splits a path into components, dropping empty ones ("a//b").
std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

class Walker {
 public:
  Walker(const LookupContext& ctx, int* links) : ctx_(ctx), links_(links) {}

  // Walks every component of `path` but the last from `cur`; returns the
  // last one in *last ("" when there is none) and whether a slash trails.
  ErrorOr<void> WalkToParent(VirtualPath& cur, std::string_view path,
                             std::string* last, bool* trailing) {
    if (path.empty()) return Errno{ENOENT};
    if (path[0] == '/') {
      if (ctx_.resolve & RESOLVE_BENEATH) return Errno{EXDEV};
      cur = ctx_.root;
    }
    std::vector<std::string_view> comps = Split(path);
    *trailing = path.back() == '/' && !comps.empty();
    *last = comps.empty() ? "" : std::string(comps.back());
    if (!comps.empty()) comps.pop_back();
    size_t i = 0;
    while (i < comps.size()) {
      if (IsDots(comps[i])) {
        TRY_VOID(MaySearch(ctx_, cur));
        if (comps[i] == "..") cur = TRY(DotDot(ctx_, cur));
        ++i;
        continue;
      }
      // A run of plain names: one WalkChildren call, so a remote file
      // system can resolve them in one round trip.
      size_t run = i;
      while (run < comps.size() && !IsDots(comps[run])) {
        if (comps[run].size() > kNameMax) return Errno{ENAMETOOLONG};
        ++run;
      }
      TRY_VOID(MaySearch(ctx_, cur));
      std::vector<std::shared_ptr<Dentry>> found;
      {
        Filesystem& fs = cur.dentry->fs();
        absl::MutexLock lock(&fs.tree_mu());
        found = TRY(fs.WalkChildren(
            *cur.dentry, absl::MakeConstSpan(comps).subspan(i, run - i)));
      }
      for (size_t k = 0; k < found.size(); ++k, ++i) {
        if (k > 0) TRY_VOID(MaySearch(ctx_, cur));
        VirtualPath next = TRY(CrossMountsDown(ctx_, {cur.mount, found[k]}));
        if (next.inode().IsSymlink()) {
          std::string target = TRY(ReadLinkForWalk(ctx_, next, links_));
          cur = TRY(Resolve(ctx_, cur, target, /*follow_final=*/true, links_));
          ++i;
          break;  // The rest of the run was looked up under the link.
        }
        if (next.mount != cur.mount) {
          cur = std::move(next);
          ++i;
          break;  // The rest of the run was looked up under the mountpoint.
        }
        cur = std::move(next);
      }
      // Every component but the last must be a directory.
      if (!cur.inode().IsDir()) return Errno{ENOTDIR};
    }
    return {};
  }

 private:
  const LookupContext& ctx_;
  int* links_;
};

}  // namespace

ErrorOr<std::string> ReadLinkForWalk(const LookupContext& ctx,
                                     const VirtualPath& link, int* links) {
  if (ctx.resolve & RESOLVE_NO_SYMLINKS) return Errno{ELOOP};
  if (++*links > kMaxSymlinks) return Errno{ELOOP};
  ErrorOr<std::string> target = link.inode().ReadLink();
  if (!target.ok()) return target;
  if (target->empty()) return Errno{ENOENT};
  if (absl::StartsWith(*target, "/") && (ctx.resolve & RESOLVE_BENEATH)) {
    return Errno{EXDEV};
  }
  return target;
}

ErrorOr<VirtualPath> Step(const LookupContext& ctx, const VirtualPath& dir,
                          std::string_view name) {
  TRY_VOID(MaySearch(ctx, dir));
  if (name == ".") return dir;
  if (name == "..") return DotDot(ctx, dir);
  if (name.size() > kNameMax) return Errno{ENAMETOOLONG};
  std::shared_ptr<Dentry> child;
  {
    Filesystem& fs = dir.dentry->fs();
    absl::MutexLock lock(&fs.tree_mu());
    child = TRY(fs.LookupChild(*dir.dentry, name));
  }
  return CrossMountsDown(ctx, {dir.mount, std::move(child)});
}

ErrorOr<ParentLookup> ResolveParent(const LookupContext& ctx,
                                    const VirtualPath& start,
                                    std::string_view path, int* links) {
  int local_links = 0;
  if (links == nullptr) links = &local_links;
  ParentLookup out;
  out.dir = start;
  TRY_VOID(Walker(ctx, links).WalkToParent(out.dir, path, &out.last,
                                           &out.trailing_slash));
  return out;
}

ErrorOr<VirtualPath> Resolve(const LookupContext& ctx, const VirtualPath& start,
                             std::string_view path, bool follow_final,
                             int* links) {
  int local_links = 0;
  if (links == nullptr) links = &local_links;
  ParentLookup p = TRY(ResolveParent(ctx, start, path, links));
  bool trailing = p.trailing_slash;
  while (true) {
    if (p.last.empty()) return p.dir;  // "/"
    VirtualPath next = TRY(Step(ctx, p.dir, p.last));
    if (next.inode().IsSymlink() && (follow_final || trailing)) {
      std::string target = TRY(ReadLinkForWalk(ctx, next, links));
      VirtualPath from = p.dir;
      p = TRY(ResolveParent(ctx, from, target, links));
      trailing = trailing || p.trailing_slash;
      continue;
    }
    if (trailing && !next.inode().IsDir()) return Errno{ENOTDIR};
    return next;
  }
}

std::string PathOf(const VirtualPath& root, const VirtualPath& vp) {
  std::vector<std::string> names;
  VirtualPath cur = vp;
  bool reachable = true;
  while (!(cur == root)) {
    if (cur.dentry == cur.mount->root()) {
      if (!cur.mount->mountpoint()) {
        reachable = false;
        break;
      }
      cur = *cur.mount->mountpoint();
      continue;
    }
    absl::MutexLock lock(&cur.dentry->fs().tree_mu());
    names.push_back(cur.dentry->name());
    cur.dentry = cur.dentry->parent();
    if (cur.dentry == nullptr) {
      reachable = false;
      break;
    }
  }
  std::string out = reachable ? "" : "(unreachable)";
  for (auto it = names.rbegin(); it != names.rend(); ++it) {
    absl::StrAppend(&out, "/", *it);
  }
  return out.empty() || out == "(unreachable)" ? out + "/" : out;
}

}  // namespace moat::fs
