// GoferServer's host operations, one per request type. Every host call here
// is an *at() call on a held fd with one checked name (CheckName) and
// O_NOFOLLOW / AT_SYMLINK_NOFOLLOW, an fd-only call (fstat, fchownat with
// AT_EMPTY_PATH), or a reopen of a held fd through /proc/self/fd. None
// resolves a multi-component path, so no symlink or ".." in the served tree
// can lead outside it. Each returns 0 or a Linux errno for the response.
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "gofer/server.h"
#include "gofer/wire.h"

namespace moat::gofer {
namespace {

// open(2) flags a client may ask for when opening or creating a file. The
// gofer adds O_CLOEXEC and O_NOCTTY; O_CREAT, O_EXCL, O_PATH, O_TMPFILE,
// O_DIRECTORY and O_NOFOLLOW are its own business.
constexpr int kClientOpenFlags = O_ACCMODE | O_TRUNC | O_APPEND | O_NONBLOCK |
                                 O_SYNC | O_DSYNC | O_DIRECT | O_NOATIME |
                                 O_LARGEFILE;

bool IsWrite(int flags) {
  return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC) != 0;
}

int CheckOpenFlags(uint32_t flags) {
  if ((flags & ~static_cast<uint32_t>(kClientOpenFlags)) != 0) return EINVAL;
  if ((flags & O_ACCMODE) == O_ACCMODE) return EINVAL;
  return 0;
}

// Getdents answers stay this far under kMaxMessageSize, for the framing
// around the entries.
constexpr size_t kGetdentsSlack = 1024;
constexpr uint32_t kMaxGetdentsEntries = 4096;

}  // namespace

int GoferServer::Reopen(const Node& node, int flags) const {
  std::string num = absl::StrCat(node.fd.get());
  int fd = openat(proc_self_fd_.get(), num.c_str(), flags | O_CLOEXEC);
  return fd >= 0 ? fd : -errno;
}

int GoferServer::InsertSameInode(int fd, HandleStat* out) {
  // O_PATH through the magic link: the same inode, whatever its name is now.
  std::string num = absl::StrCat(fd);
  UniqueFd path(openat(proc_self_fd_.get(), num.c_str(), O_PATH | O_CLOEXEC));
  if (!path.valid()) return errno;
  struct stat st;
  if (fstat(path.get(), &st) != 0) return errno;
  uint64_t handle;
  if (int err = Insert(std::move(path), st.st_mode & S_IFMT, &handle, nullptr))
    return err;
  out->set_handle(handle);
  StatToProto(st, out->mutable_stat());
  return 0;
}

int GoferServer::InsertChild(const Node& dir, const std::string& name,
                             HandleStat* out, NodeRef* node) {
  // O_PATH | O_NOFOLLOW: a symlink yields an fd on the link itself, and
  // nothing is really opened (no FIFO blocks, no device driver runs), see
  // open(2).
  UniqueFd fd(openat(dir.fd.get(), name.c_str(),
                     O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return errno;
  // Stat the fd we hold, not the name: the name may change under us.
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return errno;
  uint64_t handle;
  if (int err = Insert(std::move(fd), st.st_mode & S_IFMT, &handle, node))
    return err;
  out->set_handle(handle);
  StatToProto(st, out->mutable_stat());
  return 0;
}

int GoferServer::AdoptNewChild(const Node& dir, const std::string& name,
                               bool has_owner, const Owner& owner,
                               int unlink_flags, HandleStat* out) {
  NodeRef node;
  int err = InsertChild(dir, name, out, &node);
  if (err == 0) err = ApplyOwner(node->fd.get(), has_owner, owner);
  if (err != 0) {
    if (node != nullptr) Remove(out->handle());
    unlinkat(dir.fd.get(), name.c_str(), unlink_flags);
  }
  return err;
}

int GoferServer::ApplyOwner(int fd, bool has_owner, const Owner& owner) {
  if (!has_owner) return 0;
  // AT_EMPTY_PATH works on O_PATH fds and never follows (fchownat(2)).
  if (fchownat(fd, "", owner.uid(), owner.gid(), AT_EMPTY_PATH) != 0)
    return errno;
  return 0;
}

int GoferServer::DoAttach(AttachResponse* out) {
  UniqueFd fd(openat(root_.get(), ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return errno;
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return errno;
  uint64_t handle;
  if (int err = Insert(std::move(fd), S_IFDIR, &handle, nullptr)) return err;
  out->mutable_root()->set_handle(handle);
  StatToProto(st, out->mutable_root()->mutable_stat());
  return 0;
}

int GoferServer::DoWalk(const WalkRequest& req, WalkResponse* out) {
  NodeRef cur = Lookup(req.dir());
  if (cur == nullptr) return EBADF;
  // Every name is checked before anything is opened.
  for (const std::string& name : req.names()) {
    if (int err = CheckName(name)) return err;
  }
  out->set_stop(WalkResponse::DONE);
  for (int i = 0; i < req.names_size(); ++i) {
    NodeRef next;
    int err = InsertChild(*cur, req.names(i), out->add_walked(), &next);
    if (err != 0) {
      out->mutable_walked()->RemoveLast();
      out->set_stop(err == ENOENT ? WalkResponse::MISSING
                                  : WalkResponse::ERROR);
      out->set_stop_index(i);
      out->set_stop_error(err);
      return 0;
    }
    if (next->type == S_IFLNK) {
      // Reported, never followed: the sentry resolves symlinks itself.
      out->set_stop(WalkResponse::SYMLINK);
      out->set_stop_index(i);
      return 0;
    }
    cur = std::move(next);
  }
  return 0;
}

int GoferServer::DoStat(const StatRequest& req, StatResponse* out) {
  NodeRef node = Lookup(req.handle());
  if (node == nullptr) return EBADF;
  struct stat st;
  if (fstat(node->fd.get(), &st) != 0) return errno;
  StatToProto(st, out->mutable_stat());
  return 0;
}

int GoferServer::DoStatFs(const StatFsRequest& req, StatFsResponse* out) {
  NodeRef node = Lookup(req.handle());
  if (node == nullptr) return EBADF;
  struct statfs s;
  if (fstatfs(node->fd.get(), &s) != 0) return errno;
  out->set_type(s.f_type);
  out->set_bsize(s.f_bsize);
  out->set_blocks(s.f_blocks);
  out->set_bfree(s.f_bfree);
  out->set_bavail(s.f_bavail);
  out->set_files(s.f_files);
  out->set_ffree(s.f_ffree);
  out->set_namelen(s.f_namelen);
  out->set_frsize(s.f_frsize);
  out->set_flags(s.f_flags);
  return 0;
}

int GoferServer::DoOpen(const OpenRequest& req, UniqueFd* fd_out) {
  NodeRef node = Lookup(req.handle());
  if (node == nullptr) return EBADF;
  if (int err = CheckOpenFlags(req.flags())) return err;
  const int flags = static_cast<int>(req.flags());
  if (options_.read_only && IsWrite(flags)) return EROFS;
  switch (node->type) {
    case S_IFREG:
      break;
    case S_IFDIR:
      // open(2): EISDIR for a directory opened for writing. Nothing is
      // donated; the sentry lists directories with Getdents.
      return IsWrite(flags) ? EISDIR : 0;
    case S_IFLNK:
      return ELOOP;  // As open(2) with O_NOFOLLOW on a symlink.
    default:
      // FIFOs, sockets and device nodes in the served tree are never opened
      // on the host: the sentry implements those itself.
      return EPERM;
  }
  // The reopen reaches exactly the inode this handle walked to; the name it
  // had may since have been replaced (by a symlink, say) without effect.
  int fd = Reopen(*node, flags | O_NOCTTY);
  if (fd < 0) return -fd;
  fd_out->reset(fd);
  return 0;
}

int GoferServer::DoCreate(const CreateRequest& req, CreateResponse* out,
                          UniqueFd* fd_out) {
  NodeRef dir = Lookup(req.dir());
  if (dir == nullptr) return EBADF;
  if (dir->type != S_IFDIR) return ENOTDIR;
  if (int err = CheckName(req.name())) return err;
  if (int err = CheckOpenFlags(req.flags())) return err;
  if (options_.read_only) return EROFS;
  // O_EXCL with O_CREAT never follows a symlink in the last component
  // (open(2)); O_NOFOLLOW says so twice.
  UniqueFd fd(openat(dir->fd.get(), req.name().c_str(),
                     static_cast<int>(req.flags()) | O_CREAT | O_EXCL |
                         O_NOFOLLOW | O_NOCTTY | O_CLOEXEC,
                     req.mode() & 07777));
  if (!fd.valid()) return errno;
  int err = ApplyOwner(fd.get(), req.has_owner(), req.owner());
  if (err == 0) err = InsertSameInode(fd.get(), out->mutable_file());
  if (err != 0) {
    // Do not leave a half-made file behind.
    unlinkat(dir->fd.get(), req.name().c_str(), 0);
    return err;
  }
  *fd_out = std::move(fd);
  return 0;
}

int GoferServer::DoMkdir(const MkdirRequest& req, NewFileResponse* out) {
  NodeRef dir = Lookup(req.dir());
  if (dir == nullptr) return EBADF;
  if (dir->type != S_IFDIR) return ENOTDIR;
  if (int err = CheckName(req.name())) return err;
  if (options_.read_only) return EROFS;
  if (mkdirat(dir->fd.get(), req.name().c_str(), req.mode() & 07777) != 0)
    return errno;
  return AdoptNewChild(*dir, req.name(), req.has_owner(), req.owner(), AT_REMOVEDIR,
                       out->mutable_file());
}

int GoferServer::DoMknod(const MknodRequest& req, NewFileResponse* out) {
  NodeRef dir = Lookup(req.dir());
  if (dir == nullptr) return EBADF;
  if (dir->type != S_IFDIR) return ENOTDIR;
  if (int err = CheckName(req.name())) return err;
  mode_t type = req.mode() & S_IFMT;
  if (type == 0) type = S_IFREG;  // mknod(2): zero means a regular file.
  // Device nodes are the sentry's (devfs); sockets come from bind(2).
  if (type != S_IFREG && type != S_IFIFO) return EPERM;
  if (options_.read_only) return EROFS;
  if (mknodat(dir->fd.get(), req.name().c_str(), type | (req.mode() & 07777),
              0) != 0)
    return errno;
  return AdoptNewChild(*dir, req.name(), req.has_owner(), req.owner(), 0,
                       out->mutable_file());
}

int GoferServer::DoSymlink(const SymlinkRequest& req, NewFileResponse* out) {
  NodeRef dir = Lookup(req.dir());
  if (dir == nullptr) return EBADF;
  if (dir->type != S_IFDIR) return ENOTDIR;
  if (int err = CheckName(req.name())) return err;
  // symlink(2): an empty target is ENOENT; a target is a C string.
  if (req.target().empty()) return ENOENT;
  if (req.target().find('\0') != std::string::npos) return EINVAL;
  if (req.target().size() >= PATH_MAX) return ENAMETOOLONG;
  if (options_.read_only) return EROFS;
  if (symlinkat(req.target().c_str(), dir->fd.get(), req.name().c_str()) != 0)
    return errno;
  return AdoptNewChild(*dir, req.name(), req.has_owner(), req.owner(), 0,
                       out->mutable_file());
}

int GoferServer::DoLink(const LinkRequest& req, LinkResponse* out) {
  NodeRef target = Lookup(req.target());
  NodeRef dir = Lookup(req.dir());
  if (target == nullptr || dir == nullptr) return EBADF;
  if (dir->type != S_IFDIR) return ENOTDIR;
  if (target->type == S_IFDIR) return EPERM;  // link(2).
  if (int err = CheckName(req.name())) return err;
  if (options_.read_only) return EROFS;
  // linkat(2) with AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; the documented
  // alternative is the /proc/self/fd magic link with AT_SYMLINK_FOLLOW,
  // which again names the held inode rather than a path.
  std::string num = absl::StrCat(target->fd.get());
  if (linkat(proc_self_fd_.get(), num.c_str(), dir->fd.get(),
             req.name().c_str(), AT_SYMLINK_FOLLOW) != 0)
    return errno;
  struct stat st;
  if (fstat(target->fd.get(), &st) != 0) return errno;
  StatToProto(st, out->mutable_stat());
  return 0;
}

int GoferServer::DoUnlink(const UnlinkRequest& req) {
  NodeRef dir = Lookup(req.dir());
  if (dir == nullptr) return EBADF;
  if (dir->type != S_IFDIR) return ENOTDIR;
  if (int err = CheckName(req.name())) return err;
  if ((req.flags() & ~static_cast<uint32_t>(AT_REMOVEDIR)) != 0) return EINVAL;
  if (options_.read_only) return EROFS;
  if (unlinkat(dir->fd.get(), req.name().c_str(),
               static_cast<int>(req.flags())) != 0)
    return errno;
  return 0;
}

int GoferServer::DoRename(const RenameRequest& req) {
  NodeRef old_dir = Lookup(req.old_dir());
  NodeRef new_dir = Lookup(req.new_dir());
  if (old_dir == nullptr || new_dir == nullptr) return EBADF;
  if (old_dir->type != S_IFDIR || new_dir->type != S_IFDIR) return ENOTDIR;
  if (int err = CheckName(req.old_name())) return err;
  if (int err = CheckName(req.new_name())) return err;
  // RENAME_WHITEOUT is overlayfs's and needs CAP_MKNOD; not offered.
  constexpr uint32_t kAllowed = RENAME_NOREPLACE | RENAME_EXCHANGE;
  if ((req.flags() & ~kAllowed) != 0) return EINVAL;
  if (options_.read_only) return EROFS;
  if (renameat2(old_dir->fd.get(), req.old_name().c_str(), new_dir->fd.get(),
                req.new_name().c_str(), req.flags()) != 0)
    return errno;
  return 0;
}

int GoferServer::DoGetdents(const GetdentsRequest& req, GetdentsResponse* out) {
  NodeRef dir = Lookup(req.dir());
  if (dir == nullptr) return EBADF;
  if (dir->type != S_IFDIR) return ENOTDIR;
  // getdents64(2) needs a real open directory; O_PATH fds give EBADF.
  int raw = Reopen(*dir, O_RDONLY | O_DIRECTORY);
  if (raw < 0) return -raw;
  UniqueFd fd(raw);
  if (lseek(fd.get(), req.offset(), SEEK_SET) < 0) return errno;
  uint32_t max_entries = req.max_entries();
  if (max_entries == 0 || max_entries > kMaxGetdentsEntries)
    max_entries = kMaxGetdentsEntries;
  size_t budget = kMaxMessageSize - kGetdentsSlack;
  alignas(8) char buf[16 * 1024];
  for (;;) {
    ssize_t n = getdents64(fd.get(), buf, sizeof(buf));
    if (n < 0) return errno;
    if (n == 0) return 0;
    for (ssize_t pos = 0; pos < n;) {
      // struct linux_dirent64 (getdents(2)): ino, off, reclen, type, name.
      struct dirent64 d;
      const size_t header = offsetof(struct dirent64, d_name);
      std::memcpy(&d, buf + pos, header);
      if (d.d_reclen <= header || pos + d.d_reclen > n) return EIO;
      const char* name_start = buf + pos + header;
      std::string name(name_start,
                       strnlen(name_start, d.d_reclen - header));
      pos += d.d_reclen;
      if (name == "." || name == "..") continue;
      // Field tags and lengths: a few bytes each; 32 is generous.
      size_t cost = name.size() + 32;
      if (cost > budget ||
          out->entries_size() >= static_cast<int>(max_entries)) {
        return 0;  // The next call starts after the last entry sent.
      }
      budget -= cost;
      Dirent* e = out->add_entries();
      e->set_name(std::move(name));
      e->set_ino(d.d_ino);
      e->set_type(d.d_type);
      e->set_next_offset(d.d_off);
    }
  }
}

int GoferServer::DoReadlink(const ReadlinkRequest& req, ReadlinkResponse* out) {
  NodeRef node = Lookup(req.handle());
  if (node == nullptr) return EBADF;
  if (node->type != S_IFLNK) return EINVAL;  // readlink(2).
  // An empty path reads the link the O_PATH fd refers to (readlinkat(2),
  // since Linux 2.6.39).
  char buf[PATH_MAX];
  ssize_t n = readlinkat(node->fd.get(), "", buf, sizeof(buf));
  if (n < 0) return errno;
  out->set_target(std::string(buf, static_cast<size_t>(n)));
  return 0;
}

int GoferServer::DoSetStat(const SetStatRequest& req, SetStatResponse* out) {
  NodeRef node = Lookup(req.handle());
  if (node == nullptr) return EBADF;
  if (options_.read_only) return EROFS;
  if (req.has_size()) {
    if (node->type == S_IFDIR) return EISDIR;  // truncate(2).
    if (node->type != S_IFREG) return EINVAL;
    if (req.size() < 0) return EINVAL;
    int raw = Reopen(*node, O_WRONLY | O_NOCTTY);
    if (raw < 0) return -raw;
    UniqueFd fd(raw);
    if (ftruncate(fd.get(), req.size()) != 0) return errno;
  }
  if (req.has_uid() || req.has_gid()) {
    uid_t uid = req.has_uid() ? req.uid() : static_cast<uid_t>(-1);
    gid_t gid = req.has_gid() ? req.gid() : static_cast<gid_t>(-1);
    if (fchownat(node->fd.get(), "", uid, gid, AT_EMPTY_PATH) != 0)
      return errno;
  }
  if (req.has_mode()) {
    // Linux has no mode on symlinks (fchmodat(2): AT_SYMLINK_NOFOLLOW is
    // EOPNOTSUPP). Others: chmod through the magic link, as fchmod(2)
    // refuses O_PATH fds.
    if (node->type == S_IFLNK) return EOPNOTSUPP;
    std::string num = absl::StrCat(node->fd.get());
    if (fchmodat(proc_self_fd_.get(), num.c_str(), req.mode() & 07777, 0) != 0)
      return errno;
  }
  if (req.has_atime() || req.has_mtime()) {
    timespec ts[2];
    ts[0] = req.has_atime() ? timespec{req.atime().sec(), req.atime().nsec()}
                            : timespec{0, UTIME_OMIT};
    ts[1] = req.has_mtime() ? timespec{req.mtime().sec(), req.mtime().nsec()}
                            : timespec{0, UTIME_OMIT};
    // utimensat(2) with AT_EMPTY_PATH acts on the O_PATH fd itself, and
    // AT_SYMLINK_NOFOLLOW keeps a symlink's own times.
    if (utimensat(node->fd.get(), "", ts,
                  AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0)
      return errno;
  }
  struct stat st;
  if (fstat(node->fd.get(), &st) != 0) return errno;
  StatToProto(st, out->mutable_stat());
  return 0;
}

int GoferServer::DoFsync(const FsyncRequest& req) {
  NodeRef node = Lookup(req.handle());
  if (node == nullptr) return EBADF;
  int flags;
  if (node->type == S_IFREG) {
    flags = O_RDONLY | O_NOCTTY;
  } else if (node->type == S_IFDIR) {
    flags = O_RDONLY | O_DIRECTORY;
  } else {
    return EINVAL;  // fsync(2): not a file that can be synced.
  }
  // fsync(2) refuses O_PATH fds; a read-only reopen may sync (it syncs the
  // inode, not the open file).
  int raw = Reopen(*node, flags);
  if (raw < 0) return -raw;
  UniqueFd fd(raw);
  if ((req.datasync() ? fdatasync(fd.get()) : fsync(fd.get())) != 0)
    return errno;
  return 0;
}

int GoferServer::DoClose(const CloseRequest& req) {
  for (uint64_t handle : req.handles()) Remove(handle);
  return 0;
}

}  // namespace moat::gofer
