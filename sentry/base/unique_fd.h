// UniqueFd: move-only owner of a host file descriptor. Shared by every
// component (sentry, gofer, platforms, CLI). It closes on destruction and
// never duplicates implicitly.
#ifndef MOAT_SENTRY_BASE_UNIQUE_FD_H_
#define MOAT_SENTRY_BASE_UNIQUE_FD_H_

#include <unistd.h>

#include <utility>

namespace moat {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }

  // Gives up ownership without closing.
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace moat

#endif  // MOAT_SENTRY_BASE_UNIQUE_FD_H_
