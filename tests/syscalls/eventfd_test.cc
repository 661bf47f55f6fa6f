// eventfd (man 2 eventfd): the counter, EFD_SEMAPHORE, EFD_NONBLOCK and
// EFD_CLOEXEC, 8-byte transfers (EINVAL below), the 0xffffffffffffffff
// write, overflow blocking until a read, and poll readiness.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

#include "gtest/gtest.h"
#include "syscall_test_util.h"

using moat_test::ErrnoOf;

namespace {

uint64_t ReadCount(int fd) {
  uint64_t v = 0;
  EXPECT_EQ(read(fd, &v, sizeof(v)), 8);
  return v;
}

void WriteCount(int fd, uint64_t v) { EXPECT_EQ(write(fd, &v, sizeof(v)), 8); }

TEST(EventfdTest, CounterAddsAndReadResets) {
  int fd = eventfd(5, EFD_CLOEXEC | EFD_NONBLOCK);
  ASSERT_GE(fd, 0);
  WriteCount(fd, 3);
  WriteCount(fd, 4);
  EXPECT_EQ(ReadCount(fd), 12u);
  uint64_t v;
  EXPECT_EQ(ErrnoOf(read(fd, &v, sizeof(v))), EAGAIN);
  close(fd);
}

TEST(EventfdTest, SemaphoreReadsOne) {
  int fd = eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(ReadCount(fd), 1u);
  EXPECT_EQ(ReadCount(fd), 1u);
  uint64_t v;
  EXPECT_EQ(ErrnoOf(read(fd, &v, sizeof(v))), EAGAIN);
  close(fd);
}

TEST(EventfdTest, Flags) {
  int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  EXPECT_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
  EXPECT_TRUE(fcntl(fd, F_GETFL) & O_NONBLOCK);
  EXPECT_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR);
  close(fd);
  EXPECT_EQ(ErrnoOf(eventfd(0, 0x10)), EINVAL);
  // The original eventfd takes no flags at all.
  EXPECT_EQ(ErrnoOf(syscall(SYS_eventfd2, 0, EFD_SEMAPHORE << 1)), EINVAL);
  fd = syscall(SYS_eventfd, 1);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(fcntl(fd, F_GETFD), 0);
  close(fd);
}

TEST(EventfdTest, ShortBuffersAndMaxWriteAreEinval) {
  int fd = eventfd(1, EFD_NONBLOCK);
  uint32_t small = 1;
  EXPECT_EQ(ErrnoOf(read(fd, &small, sizeof(small))), EINVAL);
  EXPECT_EQ(ErrnoOf(write(fd, &small, sizeof(small))), EINVAL);
  uint64_t max = UINT64_MAX;
  EXPECT_EQ(ErrnoOf(write(fd, &max, sizeof(max))), EINVAL);
  // A longer buffer transfers 8 bytes.
  uint64_t big[2] = {0, 0};
  EXPECT_EQ(read(fd, big, sizeof(big)), 8);
  EXPECT_EQ(big[0], 1u);
  close(fd);
}

TEST(EventfdTest, PollReadiness) {
  int fd = eventfd(0, EFD_NONBLOCK);
  struct pollfd p = {fd, POLLIN | POLLOUT, 0};
  ASSERT_EQ(poll(&p, 1, 0), 1);
  EXPECT_EQ(p.revents, POLLOUT);
  WriteCount(fd, 1);
  ASSERT_EQ(poll(&p, 1, 0), 1);
  EXPECT_EQ(p.revents, POLLIN | POLLOUT);
  WriteCount(fd, 0xfffffffffffffffdull);  // Now at the maximum.
  ASSERT_EQ(poll(&p, 1, 0), 1);
  EXPECT_EQ(p.revents, POLLIN);
  uint64_t one = 1;
  EXPECT_EQ(ErrnoOf(write(fd, &one, sizeof(one))), EAGAIN);
  close(fd);
}

void* ReadAfterDelay(void* arg) {
  int fd = *static_cast<int*>(arg);
  usleep(50 * 1000);
  uint64_t v;
  return reinterpret_cast<void*>(read(fd, &v, sizeof(v)));
}

TEST(EventfdTest, OverflowingWriteBlocksUntilRead) {
  int fd = eventfd(0, 0);
  WriteCount(fd, 0xfffffffffffffffeull);
  pthread_t th;
  ASSERT_EQ(pthread_create(&th, nullptr, ReadAfterDelay, &fd), 0);
  WriteCount(fd, 2);  // Blocks until the thread reads.
  void* ret;
  ASSERT_EQ(pthread_join(th, &ret), 0);
  EXPECT_EQ(reinterpret_cast<intptr_t>(ret), 8);
  EXPECT_EQ(ReadCount(fd), 2u);
  close(fd);
}

void* WriteAfterDelay(void* arg) {
  int fd = *static_cast<int*>(arg);
  usleep(50 * 1000);
  uint64_t v = 9;
  return reinterpret_cast<void*>(write(fd, &v, sizeof(v)));
}

TEST(EventfdTest, BlockingReadWokenByWrite) {
  int fd = eventfd(0, 0);
  pthread_t th;
  ASSERT_EQ(pthread_create(&th, nullptr, WriteAfterDelay, &fd), 0);
  EXPECT_EQ(ReadCount(fd), 9u);
  ASSERT_EQ(pthread_join(th, nullptr), 0);
  close(fd);
}

}  // namespace
