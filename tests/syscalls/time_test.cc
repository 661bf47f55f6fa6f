// Clocks and sleeps: clock_gettime, clock_getres, gettimeofday, time,
// nanosleep, clock_nanosleep. Raw syscalls throughout: natively glibc would
// answer clock reads from the vDSO and implement nanosleep with
// clock_nanosleep, and neither would exercise the syscall named.
#include <gtest/gtest.h>
#include <stdint.h>
#include <sys/time.h>
#include <time.h>

#include "syscall_test_util.h"

namespace moat_test {
namespace {

constexpr int64_t kNsPerSec = 1000000000;

int64_t ToNs(const struct timespec& ts) {
  return ts.tv_sec * kNsPerSec + ts.tv_nsec;
}

int64_t RawNow(clockid_t clock) {
  struct timespec ts = {};
  EXPECT_EQ(syscall(SYS_clock_gettime, clock, &ts), 0) << "errno " << errno;
  return ToNs(ts);
}

TEST(ClockGettime, MonotonicNeverGoesBackwards) {
  int64_t prev = RawNow(CLOCK_MONOTONIC);
  for (int i = 0; i < 2000; ++i) {
    int64_t now = RawNow(CLOCK_MONOTONIC);
    ASSERT_GE(now, prev) << "iteration " << i;
    prev = now;
  }
}

TEST(ClockGettime, LibcAndRawSyscallAgreeOnMonotonic) {
  struct timespec libc_ts;
  int64_t before = RawNow(CLOCK_MONOTONIC);
  ASSERT_EQ(clock_gettime(CLOCK_MONOTONIC, &libc_ts), 0);
  int64_t after = RawNow(CLOCK_MONOTONIC);
  EXPECT_LE(before, ToNs(libc_ts));
  EXPECT_LE(ToNs(libc_ts), after);
}

TEST(ClockGettime, AllCommonClocksWork) {
  for (clockid_t c : {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW,
                      CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE,
                      CLOCK_BOOTTIME, CLOCK_PROCESS_CPUTIME_ID,
                      CLOCK_THREAD_CPUTIME_ID}) {
    struct timespec ts = {-1, -1};
    EXPECT_EQ(syscall(SYS_clock_gettime, c, &ts), 0) << "clock " << c;
    EXPECT_GE(ts.tv_sec, 0) << "clock " << c;
    EXPECT_GE(ts.tv_nsec, 0) << "clock " << c;
    EXPECT_LT(ts.tv_nsec, kNsPerSec) << "clock " << c;
  }
}

TEST(ClockGettime, RealtimeIsAfter2020) {
  EXPECT_GT(RawNow(CLOCK_REALTIME) / kNsPerSec, 1577836800);  // 2020-01-01
}

TEST(ClockGettime, BoottimeIsAtLeastMonotonic) {
  int64_t mono = RawNow(CLOCK_MONOTONIC);
  int64_t boot = RawNow(CLOCK_BOOTTIME);
  EXPECT_GE(boot, mono);
}

TEST(ClockGettime, ProcessCpuTimeAdvancesWhenBusy) {
  int64_t start = RawNow(CLOCK_PROCESS_CPUTIME_ID);
  int64_t wall_start = RawNow(CLOCK_MONOTONIC);
  volatile uint64_t sink = 0;
  // Spin for 50 ms of wall time.
  while (RawNow(CLOCK_MONOTONIC) - wall_start < 50 * 1000 * 1000)
    for (int i = 0; i < 10000; ++i) sink = sink + i;
  EXPECT_GT(RawNow(CLOCK_PROCESS_CPUTIME_ID), start);
}

TEST(ClockGettime, BadClockIsEinval) {
  struct timespec ts;
  EXPECT_EQ(ErrnoOf(syscall(SYS_clock_gettime, 12345, &ts)), EINVAL);
}

TEST(ClockGettime, BadPointerIsEfault) {
  EXPECT_EQ(ErrnoOf(syscall(SYS_clock_gettime, CLOCK_MONOTONIC,
                            reinterpret_cast<void*>(0x10))),
            EFAULT);
}

TEST(ClockGetres, ResolutionIsPositiveAndAtMostOneSecond) {
  for (clockid_t c : {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME}) {
    struct timespec res = {-1, -1};
    ASSERT_EQ(syscall(SYS_clock_getres, c, &res), 0) << "clock " << c;
    EXPECT_GT(ToNs(res), 0) << "clock " << c;
    EXPECT_LE(ToNs(res), kNsPerSec) << "clock " << c;
  }
}

TEST(ClockGetres, NullResultIsAllowed) {
  EXPECT_EQ(syscall(SYS_clock_getres, CLOCK_MONOTONIC, nullptr), 0);
}

TEST(ClockGetres, BadClockIsEinval) {
  struct timespec res;
  EXPECT_EQ(ErrnoOf(syscall(SYS_clock_getres, 12345, &res)), EINVAL);
}

TEST(Gettimeofday, AgreesWithRealtimeAndTime) {
  int64_t before = RawNow(CLOCK_REALTIME);
  struct timeval tv = {};
  ASSERT_EQ(syscall(SYS_gettimeofday, &tv, nullptr), 0);
  time_t t_ret = 0;
  time_t t_arg = 0;
  t_ret = syscall(SYS_time, &t_arg);
  int64_t after = RawNow(CLOCK_REALTIME);

  EXPECT_GE(tv.tv_usec, 0);
  EXPECT_LT(tv.tv_usec, 1000000);
  const int64_t tv_ns = tv.tv_sec * kNsPerSec + tv.tv_usec * 1000;
  // gettimeofday has microsecond resolution: allow the truncation.
  EXPECT_GE(tv_ns, before / 1000 * 1000);
  EXPECT_LE(tv_ns, after);
  EXPECT_EQ(t_ret, t_arg);
  EXPECT_GE(t_ret, before / kNsPerSec);
  EXPECT_LE(t_ret, after / kNsPerSec);
}

TEST(Time, NullArgumentJustReturns) {
  time_t t = syscall(SYS_time, nullptr);
  EXPECT_GT(t, 1577836800);
}

TEST(Nanosleep, SleepsAtLeastTheTimeAsked) {
  const struct timespec req = {0, 30 * 1000 * 1000};
  int64_t start = RawNow(CLOCK_MONOTONIC);
  ASSERT_EQ(syscall(SYS_nanosleep, &req, nullptr), 0) << "errno " << errno;
  int64_t slept = RawNow(CLOCK_MONOTONIC) - start;
  EXPECT_GE(slept, ToNs(req));
  EXPECT_LT(slept, 5 * kNsPerSec);  // generous: only catches "never wakes"
}

TEST(Nanosleep, ZeroReturnsAtOnce) {
  const struct timespec req = {0, 0};
  EXPECT_EQ(syscall(SYS_nanosleep, &req, nullptr), 0);
}

TEST(Nanosleep, BadTimespecIsEinval) {
  const struct timespec too_many_ns = {0, kNsPerSec};
  const struct timespec negative_ns = {0, -1};
  const struct timespec negative_sec = {-1, 0};
  EXPECT_EQ(ErrnoOf(syscall(SYS_nanosleep, &too_many_ns, nullptr)), EINVAL);
  EXPECT_EQ(ErrnoOf(syscall(SYS_nanosleep, &negative_ns, nullptr)), EINVAL);
  EXPECT_EQ(ErrnoOf(syscall(SYS_nanosleep, &negative_sec, nullptr)), EINVAL);
}

TEST(Nanosleep, BadPointerIsEfault) {
  EXPECT_EQ(ErrnoOf(syscall(SYS_nanosleep, reinterpret_cast<void*>(0x10),
                            nullptr)),
            EFAULT);
}

TEST(ClockNanosleep, RelativeSleepsAtLeastTheTimeAsked) {
  const struct timespec req = {0, 20 * 1000 * 1000};
  int64_t start = RawNow(CLOCK_MONOTONIC);
  ASSERT_EQ(syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &req, nullptr),
            0);
  EXPECT_GE(RawNow(CLOCK_MONOTONIC) - start, ToNs(req));
}

TEST(ClockNanosleep, AbsoluteSleepsUntilTheDeadline) {
  const int64_t deadline = RawNow(CLOCK_MONOTONIC) + 20 * 1000 * 1000;
  const struct timespec req = {deadline / kNsPerSec, deadline % kNsPerSec};
  ASSERT_EQ(syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &req,
                    nullptr),
            0);
  EXPECT_GE(RawNow(CLOCK_MONOTONIC), deadline);
}

TEST(ClockNanosleep, AbsoluteDeadlineInThePastReturnsAtOnce) {
  const struct timespec req = {0, 1};
  int64_t start = RawNow(CLOCK_MONOTONIC);
  EXPECT_EQ(syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &req,
                    nullptr),
            0);
  EXPECT_LT(RawNow(CLOCK_MONOTONIC) - start, kNsPerSec);
}

TEST(ClockNanosleep, RealtimeClockWorks) {
  const struct timespec req = {0, 1000 * 1000};
  EXPECT_EQ(syscall(SYS_clock_nanosleep, CLOCK_REALTIME, 0, &req, nullptr), 0);
}

TEST(ClockNanosleep, BadArgumentsAreEinval) {
  const struct timespec ok = {0, 1000};
  const struct timespec bad = {0, kNsPerSec};
  EXPECT_EQ(ErrnoOf(syscall(SYS_clock_nanosleep, 12345, 0, &ok, nullptr)),
            EINVAL);
  EXPECT_EQ(
      ErrnoOf(syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &bad, nullptr)),
      EINVAL);
}

}  // namespace
}  // namespace moat_test
