// GoferServer: channel loop, handle table and request dispatch. The host
// operations themselves are in server_ops.cc.
#include "gofer/server.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gofer/wire.h"
#include "sentry/base/logging.h"
#include "sentry/base/status.h"

namespace moat::gofer {
namespace {

// statfs(2): f_type of procfs.
constexpr long kProcSuperMagic = 0x9fa0;

spdlog::logger& GoferLog() { return Log("gofer"); }

// Malformed requests logged per channel; the rest are only answered.
constexpr int kMalformedLogged = 5;

}  // namespace

absl::StatusOr<std::unique_ptr<GoferServer>> GoferServer::Create(
    UniqueFd root, GoferServerOptions options) {
  if (!root.valid()) return absl::InvalidArgumentError("gofer: no root fd");
  // Our own O_PATH handle on the root, whatever the caller opened.
  UniqueFd root_path(
      openat(root.get(), ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root_path.valid()) {
    return ErrnoStatus(errno, "gofer: the root is not a usable directory");
  }
  UniqueFd proc = std::move(options.proc_self_fd);
  if (!proc.valid()) {
    proc.reset(open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!proc.valid()) return ErrnoStatus(errno, "gofer: open /proc/self/fd");
  }
  // Reopening through anything but the real procfs would resolve names the
  // sandbox may control (a rootfs's own /proc), so insist on procfs.
  struct statfs sfs;
  if (fstatfs(proc.get(), &sfs) != 0 || sfs.f_type != kProcSuperMagic) {
    return absl::FailedPreconditionError(
        "gofer: the /proc/self/fd fd is not on procfs");
  }
  return std::unique_ptr<GoferServer>(
      new GoferServer(std::move(root_path), std::move(proc),
                      std::move(options)));
}

GoferServer::GoferServer(UniqueFd root, UniqueFd proc_self_fd,
                         GoferServerOptions options)
    : root_(std::move(root)),
      proc_self_fd_(std::move(proc_self_fd)),
      options_{.read_only = options.read_only,
               .max_handles = options.max_handles,
               .proc_self_fd = UniqueFd()} {}

GoferServer::~GoferServer() { Stop(); }

void GoferServer::AddChannel(UniqueFd channel) {
  absl::MutexLock lock(&threads_mu_);
  if (stopping_) return;  // Closes it.
  threads_.emplace_back([this, ch = std::move(channel)]() mutable {
    // No exception may leave a thread entry (STYLE.md).
    try {
      ServeChannel(std::move(ch));
    } catch (const std::exception& e) {
      GoferLog().error("channel thread died: {}", e.what());
    }
  });
}

void GoferServer::Wait() {
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&threads_mu_);
    threads.swap(threads_);
  }
  for (std::thread& t : threads) t.join();
}

void GoferServer::Stop() {
  {
    absl::MutexLock lock(&threads_mu_);
    stopping_ = true;
    // A channel thread removes its fd here before closing it, so every fd in
    // the list is still open and still the channel's.
    for (int fd : channel_fds_) shutdown(fd, SHUT_RDWR);
  }
  Wait();
}

void GoferServer::ServeChannel(UniqueFd channel) {
  const int sock = channel.get();
  int malformed = 0;
  {
    absl::MutexLock lock(&threads_mu_);
    if (stopping_) return;
    channel_fds_.push_back(sock);
  }
  for (;;) {
    ErrorOr<Received> got = ReceiveMessage(sock);
    if (!got.ok()) {
      GoferLog().warn("channel {}: recvmsg: {}; closing it", sock,
                      std::strerror(got.error()));
      break;
    }
    Received& msg = *got;
    if (msg.eof) break;
    Request request;
    Response response;
    UniqueFd donated;
    const bool parsed = !msg.truncated && request.ParseFromString(msg.bytes);
    if (parsed) response.set_id(request.id());
    std::string problem;
    if (msg.truncated) {
      problem = absl::StrCat("request longer than ", kMaxMessageSize, " bytes");
      response.set_error(EMSGSIZE);
    } else if (!msg.fds.empty() || msg.fds_truncated) {
      // No request carries fds; those that came are closed with `msg`.
      problem = absl::StrCat("request carried ", msg.fds.size(), " fds");
      response.set_error(EINVAL);
    } else if (!parsed) {
      problem = absl::StrCat("unparseable request (", msg.bytes.size(),
                             " bytes)");
      response.set_error(EINVAL);
    } else {
      response = Handle(request, &donated);
    }
    if (!problem.empty()) {
      // A hostile peer must not flood the log either.
      if (++malformed <= kMalformedLogged) {
        GoferLog().warn("channel {}: {}; answered {}{}", sock, problem,
                        std::strerror(response.error()),
                        malformed == kMalformedLogged
                            ? " (further ones on this channel not logged)"
                            : "");
      }
    }
    int err = SendMessage(sock, response, donated.get());
    if (err != 0) {
      GoferLog().warn("channel {}: sendmsg: {}; closing it", sock,
                      std::strerror(err));
      break;
    }
  }
  absl::MutexLock lock(&threads_mu_);
  std::erase(channel_fds_, sock);
  channel.reset();  // Closed under the lock: Stop never sees a reused number.
}

GoferServer::NodeRef GoferServer::Lookup(uint64_t handle) const {
  absl::MutexLock lock(&handles_mu_);
  auto it = handles_.find(handle);
  return it == handles_.end() ? nullptr : it->second;
}

int GoferServer::Insert(UniqueFd fd, mode_t type, uint64_t* handle,
                        NodeRef* node) {
  auto ref = std::make_shared<const Node>(Node{std::move(fd), type});
  absl::MutexLock lock(&handles_mu_);
  if (handles_.size() >= options_.max_handles) return ENFILE;
  *handle = next_handle_++;  // Never reused: a stale handle stays invalid.
  handles_.emplace(*handle, ref);
  if (node != nullptr) *node = std::move(ref);
  return 0;
}

void GoferServer::Remove(uint64_t handle) {
  NodeRef doomed;  // Closed outside the lock.
  absl::MutexLock lock(&handles_mu_);
  auto it = handles_.find(handle);
  if (it == handles_.end()) return;
  doomed = std::move(it->second);
  handles_.erase(it);
}

size_t GoferServer::handle_count() const {
  absl::MutexLock lock(&handles_mu_);
  return handles_.size();
}

Response GoferServer::Handle(const Request& request, UniqueFd* fd_out) {
  Response r;
  r.set_id(request.id());
  int err = 0;
  switch (request.op_case()) {
    case Request::kAttach:
      err = DoAttach(r.mutable_attach());
      break;
    case Request::kWalk:
      err = DoWalk(request.walk(), r.mutable_walk());
      break;
    case Request::kStat:
      err = DoStat(request.stat(), r.mutable_stat());
      break;
    case Request::kStatfs:
      err = DoStatFs(request.statfs(), r.mutable_statfs());
      break;
    case Request::kOpen:
      r.mutable_open();
      err = DoOpen(request.open(), fd_out);
      break;
    case Request::kCreate:
      err = DoCreate(request.create(), r.mutable_create(), fd_out);
      break;
    case Request::kMkdir:
      err = DoMkdir(request.mkdir(), r.mutable_new_file());
      break;
    case Request::kMknod:
      err = DoMknod(request.mknod(), r.mutable_new_file());
      break;
    case Request::kSymlink:
      err = DoSymlink(request.symlink(), r.mutable_new_file());
      break;
    case Request::kLink:
      err = DoLink(request.link(), r.mutable_link());
      break;
    case Request::kUnlink:
      r.mutable_done();
      err = DoUnlink(request.unlink());
      break;
    case Request::kRename:
      r.mutable_done();
      err = DoRename(request.rename());
      break;
    case Request::kGetdents:
      err = DoGetdents(request.getdents(), r.mutable_getdents());
      break;
    case Request::kReadlink:
      err = DoReadlink(request.readlink(), r.mutable_readlink());
      break;
    case Request::kSetstat:
      err = DoSetStat(request.setstat(), r.mutable_setstat());
      break;
    case Request::kFsync:
      r.mutable_done();
      err = DoFsync(request.fsync());
      break;
    case Request::kClose:
      r.mutable_done();
      err = DoClose(request.close());
      break;
    case Request::OP_NOT_SET:
      // Also what an operation from a newer client parses as.
      err = ENOSYS;
      break;
  }
  if (err != 0) {
    Response failed;
    failed.set_id(request.id());
    failed.set_error(err);
    fd_out->reset();
    return failed;
  }
  r.set_fd_attached(fd_out->valid());
  return r;
}

}  // namespace moat::gofer
