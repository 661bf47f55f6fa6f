#include "fs/anon/anon_file.h"

#include <algorithm>
#include <cstring>

#include "sentry/mm/memory_manager.h"

namespace moat::fs {

struct stat AnonStat(const void* id) {
  struct stat st {};
  st.st_mode = S_IRUSR | S_IWUSR;
  st.st_nlink = 1;
  st.st_blksize = 4096;
  st.st_ino = reinterpret_cast<uintptr_t>(id) >> 4;
  return st;
}

ErrorOr<void> CopyOutU64(IoContext& ctx, absl::Span<const IoVec> iovs,
                         uint64_t value) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(&value);
  uint64_t done = 0;
  for (const IoVec& v : iovs) {
    if (done == sizeof(value)) break;
    uint64_t chunk = std::min<uint64_t>(v.length, sizeof(value) - done);
    if (chunk == 0) continue;
    TRY_VOID(ctx.mm().CopyOut(v.base, bytes + done, chunk));
    done += chunk;
  }
  return {};
}

ErrorOr<uint64_t> CopyInU64(IoContext& ctx, absl::Span<const IoVec> iovs) {
  uint64_t value = 0;
  auto* bytes = reinterpret_cast<uint8_t*>(&value);
  uint64_t done = 0;
  for (const IoVec& v : iovs) {
    if (done == sizeof(value)) break;
    uint64_t chunk = std::min<uint64_t>(v.length, sizeof(value) - done);
    if (chunk == 0) continue;
    TRY_VOID(ctx.mm().CopyIn(v.base, bytes + done, chunk));
    done += chunk;
  }
  return value;
}

}  // namespace moat::fs
