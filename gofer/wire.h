// Framing of the gofer protocol (gofer/proto/gofer.proto) on a
// SOCK_SEQPACKET unix socket, shared by the gofer and its client: one
// serialized message per packet, fds as SCM_RIGHTS. Also the rules both ends
// apply to names. This file may not interpret requests; it only moves bytes
// and fds, and every fd it receives is owned by a UniqueFd at once.
#ifndef MOAT_GOFER_WIRE_H_
#define MOAT_GOFER_WIRE_H_

#include <sys/stat.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "gofer/gofer.pb.h"
#include "sentry/base/error_or.h"
#include "sentry/base/unique_fd.h"

namespace moat::gofer {

// Largest message either side sends or accepts. Responses are shaped to fit
// (Getdents batches); a larger request is refused with EMSGSIZE.
inline constexpr size_t kMaxMessageSize = 64 * 1024;

// Most fds one message may carry in this protocol.
inline constexpr size_t kMaxFdsPerMessage = 1;

// Returns 0 if `name` is a single path component the gofer may pass to an
// *at() call: not empty, not "." or "..", no '/' and no NUL (EINVAL), at most
// NAME_MAX bytes (ENAMETOOLONG, as path_resolution(7)). This is the first
// escape defence: no name can walk upward or across directories.
int CheckName(std::string_view name);

// One received message.
struct Received {
  std::string bytes;
  std::vector<UniqueFd> fds;  // Every fd that arrived, owned.
  bool truncated = false;     // Longer than kMaxMessageSize (MSG_TRUNC).
  bool fds_truncated = false;  // More fds were sent than fit (MSG_CTRUNC).
  bool eof = false;           // The peer closed the channel.
};

// Sends `msg` as one packet, with `fd` attached when it is >= 0. Never raises
// SIGPIPE (MSG_NOSIGNAL): a closed peer is EPIPE. Returns 0 or an errno.
int SendMessage(int sock, const google::protobuf::MessageLite& msg, int fd);

// Receives one packet (blocking, retrying EINTR). Received fds get
// FD_CLOEXEC (MSG_CMSG_CLOEXEC, see recvmsg(2)). Returns an errno only for a
// socket error; EOF is Received::eof.
ErrorOr<Received> ReceiveMessage(int sock);

void StatToProto(const struct stat& st, Stat* out);
struct stat StatFromProto(const Stat& st);

}  // namespace moat::gofer

#endif  // MOAT_GOFER_WIRE_H_
