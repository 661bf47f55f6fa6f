#include "gofer/wire.h"

#include <limits.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace moat::gofer {

int CheckName(std::string_view name) {
  if (name.empty() || name == "." || name == "..") return EINVAL;
  if (name.find('/') != std::string_view::npos) return EINVAL;
  if (name.find('\0') != std::string_view::npos) return EINVAL;
  if (name.size() > NAME_MAX) return ENAMETOOLONG;
  return 0;
}

int SendMessage(int sock, const google::protobuf::MessageLite& msg, int fd) {
  std::string bytes;
  if (!msg.SerializeToString(&bytes)) return EINVAL;
  if (bytes.size() > kMaxMessageSize) return EMSGSIZE;
  iovec iov{.iov_base = bytes.data(), .iov_len = bytes.size()};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  if (fd >= 0) {
    std::memset(control, 0, sizeof(control));
    mh.msg_control = control;
    mh.msg_controllen = sizeof(control);
    cmsghdr* cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(cm), &fd, sizeof(int));
  }
  for (;;) {
    ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);
    if (n >= 0) return 0;  // SOCK_SEQPACKET sends the record whole or not.
    if (errno != EINTR) return errno;
  }
}

ErrorOr<Received> ReceiveMessage(int sock) {
  Received out;
  // One byte more than allowed would do, but MSG_TRUNC already reports a
  // longer record (unix(7): SOCK_SEQPACKET keeps record boundaries).
  out.bytes.resize(kMaxMessageSize);
  iovec iov{.iov_base = out.bytes.data(), .iov_len = out.bytes.size()};
  // Room for a few more fds than the protocol allows, so a peer that sends
  // extra fds is seen (and they are closed) rather than silently dropped.
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)];
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = control;
  mh.msg_controllen = sizeof(control);
  ssize_t n;
  for (;;) {
    n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    if (n >= 0) break;
    if (errno != EINTR) return Errno{errno};
  }
  // Take ownership of every fd first, whatever else is wrong.
  for (cmsghdr* cm = CMSG_FIRSTHDR(&mh); cm != nullptr;
       cm = CMSG_NXTHDR(&mh, cm)) {
    if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
      out.fds.emplace_back(fd);
    }
  }
  out.truncated = (mh.msg_flags & MSG_TRUNC) != 0;
  out.fds_truncated = (mh.msg_flags & MSG_CTRUNC) != 0;
  // A zero-length read is the peer's close. (A peer could also send an empty
  // record; treating that as a close is an acceptable answer to nonsense.)
  out.eof = n == 0 && out.fds.empty() && !out.truncated;
  out.bytes.resize(static_cast<size_t>(n) < kMaxMessageSize
                       ? static_cast<size_t>(n)
                       : kMaxMessageSize);
  return out;
}

void StatToProto(const struct stat& st, Stat* out) {
  out->set_dev(st.st_dev);
  out->set_ino(st.st_ino);
  out->set_mode(st.st_mode);
  out->set_nlink(st.st_nlink);
  out->set_uid(st.st_uid);
  out->set_gid(st.st_gid);
  out->set_rdev(st.st_rdev);
  out->set_size(st.st_size);
  out->set_blksize(st.st_blksize);
  out->set_blocks(st.st_blocks);
  out->mutable_atime()->set_sec(st.st_atim.tv_sec);
  out->mutable_atime()->set_nsec(st.st_atim.tv_nsec);
  out->mutable_mtime()->set_sec(st.st_mtim.tv_sec);
  out->mutable_mtime()->set_nsec(st.st_mtim.tv_nsec);
  out->mutable_ctime()->set_sec(st.st_ctim.tv_sec);
  out->mutable_ctime()->set_nsec(st.st_ctim.tv_nsec);
}

struct stat StatFromProto(const Stat& st) {
  struct stat out {};
  out.st_dev = st.dev();
  out.st_ino = st.ino();
  out.st_mode = st.mode();
  out.st_nlink = st.nlink();
  out.st_uid = st.uid();
  out.st_gid = st.gid();
  out.st_rdev = st.rdev();
  out.st_size = st.size();
  out.st_blksize = st.blksize();
  out.st_blocks = st.blocks();
  out.st_atim = {st.atime().sec(), st.atime().nsec()};
  out.st_mtim = {st.mtime().sec(), st.mtime().nsec()};
  out.st_ctim = {st.ctime().sec(), st.ctime().nsec()};
  return out;
}

}  // namespace moat::gofer
