// timerfd (man 2 timerfd_create): one-shot and interval timers on
// CLOCK_MONOTONIC, CLOCK_REALTIME and CLOCK_BOOTTIME, TFD_TIMER_ABSTIME,
// expiration counts, blocking and non-blocking reads, gettime/settime old
// values, argument errors, and readiness through poll and epoll.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>

#include "gtest/gtest.h"
#include "syscall_test_util.h"

using moat_test::ErrnoOf;
using moat_test::NowMs;

namespace {

struct itimerspec Ms(long value_ms, long interval_ms) {
  struct itimerspec its = {};
  its.it_value.tv_sec = value_ms / 1000;
  its.it_value.tv_nsec = (value_ms % 1000) * 1000000;
  its.it_interval.tv_sec = interval_ms / 1000;
  its.it_interval.tv_nsec = (interval_ms % 1000) * 1000000;
  return its;
}

TEST(TimerfdTest, CreateErrors) {
  EXPECT_EQ(ErrnoOf(timerfd_create(CLOCK_PROCESS_CPUTIME_ID, 0)), EINVAL);
  EXPECT_EQ(ErrnoOf(timerfd_create(CLOCK_MONOTONIC, 0x4)), EINVAL);
  int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
  EXPECT_TRUE(fcntl(fd, F_GETFL) & O_NONBLOCK);
  struct itimerspec its = Ms(10, 0);
  EXPECT_EQ(ErrnoOf(timerfd_settime(fd, 0x8, &its, nullptr)), EINVAL);
  its.it_value.tv_nsec = 1000000000;
  EXPECT_EQ(ErrnoOf(timerfd_settime(fd, 0, &its, nullptr)), EINVAL);
  EXPECT_EQ(ErrnoOf(timerfd_settime(0, 0, &its, nullptr)), EINVAL);
  close(fd);
}

TEST(TimerfdTest, OneShotBlockingRead) {
  for (clockid_t clock : {CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME}) {
    int fd = timerfd_create(clock, TFD_CLOEXEC);
    ASSERT_GE(fd, 0);
    struct itimerspec its = Ms(50, 0);
    ASSERT_EQ(timerfd_settime(fd, 0, &its, nullptr), 0);
    int64_t start = NowMs();
    uint64_t count = 0;
    ASSERT_EQ(read(fd, &count, sizeof(count)), 8);
    EXPECT_EQ(count, 1u);
    EXPECT_GE(NowMs() - start, 40);
    struct itimerspec cur;
    ASSERT_EQ(timerfd_gettime(fd, &cur), 0);
    EXPECT_EQ(cur.it_value.tv_sec, 0);
    EXPECT_EQ(cur.it_value.tv_nsec, 0);
    close(fd);
  }
}

TEST(TimerfdTest, IntervalCountsExpirations) {
  int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  uint64_t count;
  EXPECT_EQ(ErrnoOf(read(fd, &count, sizeof(count))), EAGAIN);
  struct itimerspec its = Ms(20, 20);
  ASSERT_EQ(timerfd_settime(fd, 0, &its, nullptr), 0);
  usleep(130 * 1000);
  ASSERT_EQ(read(fd, &count, sizeof(count)), 8);
  EXPECT_GE(count, 4u);
  EXPECT_LE(count, 7u);
  EXPECT_EQ(ErrnoOf(read(fd, &count, sizeof(count))), EAGAIN);
  uint32_t small;
  EXPECT_EQ(ErrnoOf(read(fd, &small, sizeof(small))), EINVAL);
  struct itimerspec old;
  struct itimerspec off = Ms(0, 0);
  ASSERT_EQ(timerfd_settime(fd, 0, &off, &old), 0);
  EXPECT_EQ(old.it_interval.tv_nsec, 20 * 1000000);
  close(fd);
}

TEST(TimerfdTest, AbsoluteTime) {
  int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  struct itimerspec its = {};
  its.it_value = now;
  its.it_value.tv_nsec += 50 * 1000000;
  if (its.it_value.tv_nsec >= 1000000000) {
    its.it_value.tv_sec += 1;
    its.it_value.tv_nsec -= 1000000000;
  }
  ASSERT_EQ(timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, nullptr), 0);
  struct itimerspec cur;
  ASSERT_EQ(timerfd_gettime(fd, &cur), 0);
  EXPECT_EQ(cur.it_value.tv_sec, 0);
  EXPECT_LE(cur.it_value.tv_nsec, 50 * 1000000);
  int64_t start = NowMs();
  uint64_t count;
  ASSERT_EQ(read(fd, &count, sizeof(count)), 8);
  EXPECT_EQ(count, 1u);
  EXPECT_GE(NowMs() - start, 30);
  close(fd);
}

TEST(TimerfdTest, PollAndEpollSeeExpiry) {
  int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  struct pollfd p = {fd, POLLIN, 0};
  EXPECT_EQ(poll(&p, 1, 0), 0);
  struct itimerspec its = Ms(30, 0);
  ASSERT_EQ(timerfd_settime(fd, 0, &its, nullptr), 0);
  ASSERT_EQ(poll(&p, 1, 2000), 1);
  EXPECT_EQ(p.revents, POLLIN);
  uint64_t count;
  ASSERT_EQ(read(fd, &count, sizeof(count)), 8);

  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {};
  ev.events = EPOLLIN | EPOLLET;
  ev.data.u64 = 77;
  ASSERT_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
  EXPECT_EQ(epoll_wait(ep, &ev, 1, 0), 0);
  its = Ms(30, 30);
  ASSERT_EQ(timerfd_settime(fd, 0, &its, nullptr), 0);
  ASSERT_EQ(epoll_wait(ep, &ev, 1, 2000), 1);
  EXPECT_EQ(ev.data.u64, 77u);
  close(ep);
  close(fd);
}

}  // namespace
