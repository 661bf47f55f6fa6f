#include "gofer/client.h"

#include <poll.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "gofer/wire.h"
#include "sentry/base/logging.h"

namespace moat::gofer {
namespace {

// A response error outside 1..4095 is no errno (errno(3)): the gofer is
// confused, which the sentry sees as EIO.
bool PlausibleErrno(int err) { return err > 0 && err < 4096; }

HandleAndStat FromProto(const HandleStat& hs) {
  return HandleAndStat{.handle = hs.handle(), .stat = StatFromProto(hs.stat())};
}

void SetOwner(std::optional<NewOwner> owner, Owner* out) {
  out->set_uid(owner->uid);
  out->set_gid(owner->gid);
}

}  // namespace

GoferClient::GoferClient(std::vector<UniqueFd> channels, absl::Duration timeout)
    : timeout_(timeout) {
  absl::MutexLock lock(&mu_);
  for (UniqueFd& fd : channels) {
    auto ch = std::make_unique<Channel>();
    ch->fd = std::move(fd);
    free_.push_back(ch.get());
    channels_.push_back(std::move(ch));
  }
  live_ = channels_.size();
}

GoferClient::~GoferClient() = default;

size_t GoferClient::live_channels() const {
  absl::MutexLock lock(&mu_);
  return live_;
}

GoferClient::Channel* GoferClient::Acquire() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](GoferClient* c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(c->mu_) {
        return !c->free_.empty() || c->live_ == 0;
      },
      this));
  if (free_.empty()) return nullptr;
  Channel* ch = free_.back();
  free_.pop_back();
  return ch;
}

void GoferClient::ReleaseChannel(Channel* ch, bool broken) {
  if (broken) ch->fd.reset();  // The peer sees EOF; nothing reuses it.
  absl::MutexLock lock(&mu_);
  if (broken) {
    --live_;
  } else {
    free_.push_back(ch);
  }
}

ErrorOr<Response> GoferClient::Call(Request& request, bool want_fd,
                                    UniqueFd* fd) {
  Channel* ch = Acquire();
  if (ch == nullptr) return Errno{EIO};
  ErrorOr<Response> result = CallOn(*ch, request, want_fd, fd);
  // Any failure but an errno from the gofer leaves the channel out of step.
  bool broken = !result.ok();
  ReleaseChannel(ch, broken);
  if (broken) return Errno{EIO};
  if (result->error() != 0) {
    if (!PlausibleErrno(result->error())) return Errno{EIO};
    return Errno{result->error()};
  }
  return result;
}

ErrorOr<Response> GoferClient::CallOn(Channel& ch, Request& request,
                                      bool want_fd, UniqueFd* fd) {
  request.set_id(ch.next_id++);
  if (int err = SendMessage(ch.fd.get(), request, -1); err != 0) {
    Log("gofer").warn("gofer channel: send failed: {}", std::strerror(err));
    return Errno{err};
  }
  const absl::Time deadline = absl::Now() + timeout_;
  for (;;) {
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      Log("gofer").warn("gofer channel: no response in {}",
                        absl::FormatDuration(timeout_));
      return Errno{ETIMEDOUT};
    }
    pollfd p{.fd = ch.fd.get(), .events = POLLIN, .revents = 0};
    int ms = static_cast<int>(absl::ToInt64Milliseconds(left)) + 1;
    int n = poll(&p, 1, ms);
    if (n < 0 && errno != EINTR) return Errno{errno};
    if (n > 0) break;  // Readable, hung up or failed: recvmsg tells which.
  }
  ErrorOr<Received> got = ReceiveMessage(ch.fd.get());
  if (!got.ok()) return Errno{got.error()};  // ECONNRESET and the like.
  Received& msg = *got;
  if (msg.eof) {
    Log("gofer").warn("gofer channel closed by the gofer");
    return Errno{EPIPE};
  }
  Response response;
  if (msg.truncated || !response.ParseFromString(msg.bytes) ||
      response.id() != request.id()) {
    Log("gofer").warn("gofer channel: malformed response");
    return Errno{EPROTO};
  }
  // An fd comes exactly when announced, and only for operations that donate
  // one; anything else is closed (by `msg`) and the channel dropped.
  const size_t expected = response.fd_attached() ? 1 : 0;
  if (msg.fds_truncated || msg.fds.size() != expected ||
      (expected == 1 && (!want_fd || response.error() != 0))) {
    Log("gofer").warn(
        "gofer channel: response carried {} fds (announced {}, {} expected)",
        msg.fds.size(), expected, want_fd ? "one" : "none");
    return Errno{EPROTO};
  }
  if (expected == 1) *fd = std::move(msg.fds[0]);
  return response;
}

ErrorOr<HandleAndStat> GoferClient::Attach() {
  Request req;
  req.mutable_attach();
  Response r = TRY(Call(req, false, nullptr));
  if (!r.has_attach()) return Errno{EIO};
  return FromProto(r.attach().root());
}

ErrorOr<WalkResult> GoferClient::Walk(GoferHandle dir,
                                      absl::Span<const std::string> names) {
  Request req;
  req.mutable_walk()->set_dir(dir);
  for (const std::string& n : names) req.mutable_walk()->add_names(n);
  Response r = TRY(Call(req, false, nullptr));
  if (!r.has_walk()) return Errno{EIO};
  WalkResult out;
  for (const HandleStat& hs : r.walk().walked()) {
    out.walked.push_back(FromProto(hs));
  }
  out.stop = r.walk().stop();
  out.stop_index = r.walk().stop_index();
  out.stop_error = r.walk().stop_error();
  return out;
}

ErrorOr<struct stat> GoferClient::Stat(GoferHandle handle) {
  Request req;
  req.mutable_stat()->set_handle(handle);
  Response r = TRY(Call(req, false, nullptr));
  if (!r.has_stat()) return Errno{EIO};
  return StatFromProto(r.stat().stat());
}

ErrorOr<struct statfs> GoferClient::StatFs(GoferHandle handle) {
  Request req;
  req.mutable_statfs()->set_handle(handle);
  Response r = TRY(Call(req, false, nullptr));
  if (!r.has_statfs()) return Errno{EIO};
  const StatFsResponse& s = r.statfs();
  struct statfs out {};
  out.f_type = s.type();
  out.f_bsize = s.bsize();
  out.f_blocks = s.blocks();
  out.f_bfree = s.bfree();
  out.f_bavail = s.bavail();
  out.f_files = s.files();
  out.f_ffree = s.ffree();
  out.f_namelen = s.namelen();
  out.f_frsize = s.frsize();
  out.f_flags = s.flags();
  return out;
}

ErrorOr<UniqueFd> GoferClient::Open(GoferHandle handle, int flags) {
  Request req;
  req.mutable_open()->set_handle(handle);
  req.mutable_open()->set_flags(static_cast<uint32_t>(flags));
  UniqueFd fd;
  Response r = TRY(Call(req, true, &fd));
  if (!r.has_open()) return Errno{EIO};
  return fd;
}

ErrorOr<CreateResult> GoferClient::Create(GoferHandle dir,
                                          const std::string& name, int flags,
                                          mode_t mode,
                                          std::optional<NewOwner> owner) {
  Request req;
  CreateRequest* c = req.mutable_create();
  c->set_dir(dir);
  c->set_name(name);
  c->set_flags(static_cast<uint32_t>(flags));
  c->set_mode(mode);
  if (owner) SetOwner(owner, c->mutable_owner());
  UniqueFd fd;
  Response r = TRY(Call(req, true, &fd));
  // Create always donates: a response without an fd is a broken gofer.
  if (!r.has_create() || !fd.valid()) return Errno{EIO};
  return CreateResult{.file = FromProto(r.create().file()), .fd = std::move(fd)};
}

namespace {

// MkdirRequest and MknodRequest carry the same fields.
template <typename NodeRequest>
void FillNewNode(NodeRequest* m, GoferHandle dir, const std::string& name,
                 mode_t mode, const std::optional<NewOwner>& owner) {
  m->set_dir(dir);
  m->set_name(name);
  m->set_mode(mode);
  if (owner) SetOwner(owner, m->mutable_owner());
}

}  // namespace

ErrorOr<HandleAndStat> GoferClient::NewNodeCall(Request& req) {
  Response r = TRY(Call(req, false, nullptr));
  if (!r.has_new_file()) return Errno{EIO};
  return FromProto(r.new_file().file());
}

ErrorOr<HandleAndStat> GoferClient::Mkdir(GoferHandle dir,
                                          const std::string& name, mode_t mode,
                                          std::optional<NewOwner> owner) {
  Request req;
  FillNewNode(req.mutable_mkdir(), dir, name, mode, owner);
  return NewNodeCall(req);
}

ErrorOr<HandleAndStat> GoferClient::Mknod(GoferHandle dir,
                                          const std::string& name, mode_t mode,
                                          std::optional<NewOwner> owner) {
  Request req;
  FillNewNode(req.mutable_mknod(), dir, name, mode, owner);
  return NewNodeCall(req);
}

ErrorOr<HandleAndStat> GoferClient::Symlink(GoferHandle dir,
                                            const std::string& name,
                                            const std::string& target,
                                            std::optional<NewOwner> owner) {
  Request req;
  SymlinkRequest* s = req.mutable_symlink();
  s->set_dir(dir);
  s->set_name(name);
  s->set_target(target);
  if (owner) SetOwner(owner, s->mutable_owner());
  Response r = TRY(Call(req, false, nullptr));
  if (!r.has_new_file()) return Errno{EIO};
  return FromProto(r.new_file().file());
}

ErrorOr<struct stat> GoferClient::Link(GoferHandle target, GoferHandle dir,
                                       const std::string& name) {
  Request req;
  req.mutable_link()->set_target(target);
  req.mutable_link()->set_dir(dir);
  req.mutable_link()->set_name(name);
  Response r = TRY(Call(req, false, nullptr));
  if (!r.has_link()) return Errno{EIO};
  return StatFromProto(r.link().stat());
}

ErrorOr<void> GoferClient::Unlink(GoferHandle dir, const std::string& name,
                                  int flags) {
  Request req;
  req.mutable_unlink()->set_dir(dir);
  req.mutable_unlink()->set_name(name);
  req.mutable_unlink()->set_flags(static_cast<uint32_t>(flags));
  Response r = TRY(Call(req, false, nullptr));
  if (!r.has_done()) return Errno{EIO};
  return {};
}

ErrorOr<void> GoferClient::Rename(GoferHandle old_dir,
                                  const std::string& old_name,
                                  GoferHandle new_dir,
                                  const std::string& new_name, unsigned flags) {
  Request req;
  RenameRequest* m = req.mutable_rename();
  m->set_old_dir(old_dir);
  m->set_old_name(old_name);
  m->set_new_dir(new_dir);
  m->set_new_name(new_name);
  m->set_flags(flags);
  Response r = TRY(Call(req, false, nullptr));
  if (!r.has_done()) return Errno{EIO};
  return {};
}

ErrorOr<std::vector<DirEntry>> GoferClient::Getdents(GoferHandle dir,
                                                     int64_t offset,
                                                     uint32_t max_entries) {
  Request req;
  req.mutable_getdents()->set_dir(dir);
  req.mutable_getdents()->set_offset(offset);
  req.mutable_getdents()->set_max_entries(max_entries);
  Response r = TRY(Call(req, false, nullptr));
  if (!r.has_getdents()) return Errno{EIO};
  std::vector<DirEntry> out;
  out.reserve(r.getdents().entries_size());
  for (const Dirent& d : r.getdents().entries()) {
    out.push_back(DirEntry{.name = d.name(),
                           .ino = d.ino(),
                           .type = static_cast<uint8_t>(d.type()),
                           .next_offset = d.next_offset()});
  }
  return out;
}

ErrorOr<std::string> GoferClient::Readlink(GoferHandle handle) {
  Request req;
  req.mutable_readlink()->set_handle(handle);
  Response r = TRY(Call(req, false, nullptr));
  if (!r.has_readlink()) return Errno{EIO};
  return std::string(r.readlink().target());
}

ErrorOr<struct stat> GoferClient::SetStat(GoferHandle handle,
                                          const SetStatFields& f) {
  Request req;
  SetStatRequest* s = req.mutable_setstat();
  s->set_handle(handle);
  if (f.mode) s->set_mode(*f.mode);
  if (f.uid) s->set_uid(*f.uid);
  if (f.gid) s->set_gid(*f.gid);
  if (f.size) s->set_size(*f.size);
  if (f.atime) {
    s->mutable_atime()->set_sec(f.atime->tv_sec);
    s->mutable_atime()->set_nsec(f.atime->tv_nsec);
  }
  if (f.mtime) {
    s->mutable_mtime()->set_sec(f.mtime->tv_sec);
    s->mutable_mtime()->set_nsec(f.mtime->tv_nsec);
  }
  Response r = TRY(Call(req, false, nullptr));
  if (!r.has_setstat()) return Errno{EIO};
  return StatFromProto(r.setstat().stat());
}

ErrorOr<void> GoferClient::Fsync(GoferHandle handle, bool datasync) {
  Request req;
  req.mutable_fsync()->set_handle(handle);
  req.mutable_fsync()->set_datasync(datasync);
  Response r = TRY(Call(req, false, nullptr));
  if (!r.has_done()) return Errno{EIO};
  return {};
}

ErrorOr<void> GoferClient::Close(absl::Span<const GoferHandle> handles) {
  Request req;
  for (GoferHandle h : handles) req.mutable_close()->add_handles(h);
  req.mutable_close();  // An empty list is still a Close.
  Response r = TRY(Call(req, false, nullptr));
  if (!r.has_done()) return Errno{EIO};
  return {};
}

}  // namespace moat::gofer
