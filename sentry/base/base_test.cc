#include <fcntl.h>
#include <unistd.h>

#include "gtest/gtest.h"
#include "sentry/base/error_or.h"
#include "sentry/base/logging.h"
#include "sentry/base/status.h"
#include "sentry/base/testing_matchers.h"
#include "sentry/base/unique_fd.h"

namespace moat {
namespace {

using ::moat::testing::IsOk;
using ::moat::testing::StatusIs;

TEST(UniqueFdTest, ClosesOnDestructionAndMoves) {
  int raw;
  {
    UniqueFd fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(fd.valid());
    raw = fd.get();
    UniqueFd moved = std::move(fd);
    EXPECT_FALSE(fd.valid());
    EXPECT_EQ(moved.get(), raw);
    EXPECT_EQ(fcntl(raw, F_GETFD), FD_CLOEXEC);
  }
  EXPECT_EQ(fcntl(raw, F_GETFD), -1);
  EXPECT_EQ(errno, EBADF);
}

TEST(StatusTest, ErrnoStatusKeepsErrnoAndMessage) {
  absl::Status s = ErrnoStatus(ENOENT, "open /nope");
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(StatusErrno(s), ENOENT);
  EXPECT_NE(s.message().find("open /nope: No such file or directory"),
            std::string::npos);
  EXPECT_THAT(absl::OkStatus(), IsOk());
  EXPECT_EQ(StatusErrno(absl::OkStatus()), 0);
}

absl::StatusOr<int> Half(int x) {
  if (x % 2) return absl::InvalidArgumentError("odd");
  return x / 2;
}

absl::StatusOr<int> Quarter(int x) {
  ASSIGN_OR_RETURN(int h, Half(x));
  ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

TEST(StatusTest, AssignOrReturnPropagates) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_THAT(Quarter(6), StatusIs(absl::StatusCode::kInvalidArgument));
}

ErrorOr<int> ParseDigit(char c) {
  if (c < '0' || c > '9') return Errno{EINVAL};
  return c - '0';
}

SyscallResult SumDigits(char a, char b) {
  int x = TRY(ParseDigit(a));
  int y = TRY(ParseDigit(b));
  return x + y;
}

TEST(ErrorOrTest, TryPropagatesErrno) {
  EXPECT_EQ(SumDigits('3', '4').raw(), 7);
  SyscallResult r = SumDigits('3', 'x');
  EXPECT_TRUE(r.is_error());
  EXPECT_EQ(r.error(), EINVAL);
  EXPECT_EQ(r.raw(), -EINVAL);
  // Large unsigned results (addresses) are not errors.
  EXPECT_FALSE(SyscallResult(uint64_t{0x7fff00000000}).is_error());
}

TEST(LoggingTest, FirstTimeOnlyOnce) {
  EXPECT_TRUE(FirstTime("base_test.key"));
  EXPECT_FALSE(FirstTime("base_test.key"));
  EXPECT_TRUE(FirstTime("base_test.other"));
}

}  // namespace
}  // namespace moat
