// epoll (man 7 epoll, man 2 epoll_ctl, man 2 epoll_wait): level- and
// edge-triggered and one-shot entries on pipes and eventfds, user data,
// the EEXIST/ENOENT/EINVAL/EPERM/ELOOP errors, nested instances, entries
// dropped when their file's last fd closes, timeouts, epoll_pwait's mask,
// and a thread blocked in epoll_wait woken by another thread's write.
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"
#include "syscall_test_util.h"
#include "temp_dir.h"

using moat_test::ErrnoOf;
using moat_test::NowMs;

namespace {

struct Fds {
  int ep = -1;
  int r = -1, w = -1;
  Fds() {
    ep = epoll_create1(EPOLL_CLOEXEC);
    int p[2];
    EXPECT_EQ(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
    r = p[0];
    w = p[1];
  }
  ~Fds() {
    for (int fd : {ep, r, w}) {
      if (fd >= 0) close(fd);
    }
  }
};

int Add(int ep, int fd, uint32_t events, uint64_t data) {
  struct epoll_event ev = {};
  ev.events = events;
  ev.data.u64 = data;
  return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

int Wait(int ep, struct epoll_event* events, int max, int timeout) {
  return epoll_wait(ep, events, max, timeout);
}

void Drain(int fd) {
  char buf[256];
  while (read(fd, buf, sizeof(buf)) > 0) {
  }
}

TEST(EpollTest, CreateErrors) {
  EXPECT_EQ(ErrnoOf(syscall(SYS_epoll_create, 0)), EINVAL);
  EXPECT_EQ(ErrnoOf(epoll_create1(1)), EINVAL);
  int ep = syscall(SYS_epoll_create, 1);
  ASSERT_GE(ep, 0);
  EXPECT_EQ(fcntl(ep, F_GETFD), 0);
  close(ep);
  ep = epoll_create1(EPOLL_CLOEXEC);
  EXPECT_EQ(fcntl(ep, F_GETFD), FD_CLOEXEC);
  close(ep);
}

TEST(EpollTest, LevelTriggeredReportsUntilDrained) {
  Fds f;
  ASSERT_EQ(Add(f.ep, f.r, EPOLLIN, 0x1122334455667788), 0);
  struct epoll_event ev[4];
  EXPECT_EQ(Wait(f.ep, ev, 4, 0), 0);
  ASSERT_EQ(write(f.w, "ab", 2), 2);
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(Wait(f.ep, ev, 4, 0), 1);
    EXPECT_EQ(ev[0].events, static_cast<uint32_t>(EPOLLIN));
    EXPECT_EQ(ev[0].data.u64, 0x1122334455667788u);
  }
  Drain(f.r);
  EXPECT_EQ(Wait(f.ep, ev, 4, 0), 0);
}

TEST(EpollTest, EdgeTriggeredReportsOncePerWrite) {
  Fds f;
  ASSERT_EQ(Add(f.ep, f.r, EPOLLIN | EPOLLET, 7), 0);
  struct epoll_event ev[4];
  ASSERT_EQ(write(f.w, "a", 1), 1);
  ASSERT_EQ(Wait(f.ep, ev, 4, 0), 1);
  EXPECT_EQ(ev[0].data.u64, 7u);
  EXPECT_EQ(Wait(f.ep, ev, 4, 0), 0);  // Still readable, but no new edge.
  ASSERT_EQ(write(f.w, "b", 1), 1);
  EXPECT_EQ(Wait(f.ep, ev, 4, 0), 1);
  EXPECT_EQ(Wait(f.ep, ev, 4, 0), 0);
}

TEST(EpollTest, OneShotNeedsRearming) {
  Fds f;
  ASSERT_EQ(Add(f.ep, f.r, EPOLLIN | EPOLLONESHOT, 9), 0);
  struct epoll_event ev[4];
  ASSERT_EQ(write(f.w, "a", 1), 1);
  ASSERT_EQ(Wait(f.ep, ev, 4, 0), 1);
  EXPECT_EQ(Wait(f.ep, ev, 4, 0), 0);
  ASSERT_EQ(write(f.w, "b", 1), 1);
  EXPECT_EQ(Wait(f.ep, ev, 4, 0), 0);
  struct epoll_event mod = {};
  mod.events = EPOLLIN | EPOLLONESHOT;
  mod.data.u64 = 10;
  ASSERT_EQ(epoll_ctl(f.ep, EPOLL_CTL_MOD, f.r, &mod), 0);
  ASSERT_EQ(Wait(f.ep, ev, 4, 0), 1);
  EXPECT_EQ(ev[0].data.u64, 10u);
}

TEST(EpollTest, HangupReportedWithoutAsking) {
  Fds f;
  ASSERT_EQ(Add(f.ep, f.r, EPOLLIN | EPOLLRDHUP, 1), 0);
  close(f.w);
  f.w = -1;
  struct epoll_event ev[2];
  ASSERT_EQ(Wait(f.ep, ev, 2, 0), 1);
  EXPECT_TRUE(ev[0].events & EPOLLHUP);
  EXPECT_FALSE(ev[0].events & EPOLLIN);
}

TEST(EpollTest, WriteEndAndErrorWithoutReader) {
  Fds f;
  ASSERT_EQ(Add(f.ep, f.w, EPOLLOUT, 2), 0);
  struct epoll_event ev[2];
  ASSERT_EQ(Wait(f.ep, ev, 2, 0), 1);
  EXPECT_EQ(ev[0].events, static_cast<uint32_t>(EPOLLOUT));
  close(f.r);
  f.r = -1;
  ASSERT_EQ(Wait(f.ep, ev, 2, 0), 1);
  EXPECT_TRUE(ev[0].events & EPOLLERR);
}

TEST(EpollTest, CtlErrors) {
  Fds f;
  struct epoll_event ev = {};
  ev.events = EPOLLIN;
  ASSERT_EQ(epoll_ctl(f.ep, EPOLL_CTL_ADD, f.r, &ev), 0);
  EXPECT_EQ(ErrnoOf(epoll_ctl(f.ep, EPOLL_CTL_ADD, f.r, &ev)), EEXIST);
  EXPECT_EQ(ErrnoOf(epoll_ctl(f.ep, EPOLL_CTL_MOD, f.w, &ev)), ENOENT);
  EXPECT_EQ(ErrnoOf(epoll_ctl(f.ep, EPOLL_CTL_DEL, f.w, nullptr)), ENOENT);
  EXPECT_EQ(ErrnoOf(epoll_ctl(f.ep, EPOLL_CTL_ADD, f.ep, &ev)), EINVAL);
  EXPECT_EQ(ErrnoOf(epoll_ctl(f.r, EPOLL_CTL_ADD, f.w, &ev)), EINVAL);
  EXPECT_EQ(ErrnoOf(epoll_ctl(f.ep, 99, f.w, &ev)), EINVAL);
  EXPECT_EQ(ErrnoOf(epoll_ctl(f.ep, EPOLL_CTL_ADD, 1000, &ev)), EBADF);
  EXPECT_EQ(ErrnoOf(epoll_ctl(1000, EPOLL_CTL_ADD, f.w, &ev)), EBADF);
  ASSERT_EQ(epoll_ctl(f.ep, EPOLL_CTL_DEL, f.r, nullptr), 0);
  EXPECT_EQ(ErrnoOf(epoll_ctl(f.ep, EPOLL_CTL_DEL, f.r, nullptr)), ENOENT);
}

TEST(EpollTest, RegularFileIsEperm) {
  moat_test::TempDir dir;
  std::string path = dir.path() + "/f";
  int fd = open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  int ep = epoll_create1(0);
  struct epoll_event ev = {};
  ev.events = EPOLLIN;
  EXPECT_EQ(ErrnoOf(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev)), EPERM);
  close(ep);
  close(fd);
}

TEST(EpollTest, ExclusiveOnlyWithAdd) {
  Fds f;
  struct epoll_event ev = {};
  ev.events = EPOLLIN | EPOLLEXCLUSIVE;
  ASSERT_EQ(epoll_ctl(f.ep, EPOLL_CTL_ADD, f.r, &ev), 0);
  EXPECT_EQ(ErrnoOf(epoll_ctl(f.ep, EPOLL_CTL_MOD, f.r, &ev)), EINVAL);
  ev.events = EPOLLIN;
  EXPECT_EQ(ErrnoOf(epoll_ctl(f.ep, EPOLL_CTL_MOD, f.r, &ev)), EINVAL);
  ev.events = EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT;
  EXPECT_EQ(ErrnoOf(epoll_ctl(f.ep, EPOLL_CTL_ADD, f.w, &ev)), EINVAL);
  ASSERT_EQ(write(f.w, "x", 1), 1);
  struct epoll_event out[2];
  EXPECT_EQ(Wait(f.ep, out, 2, 0), 1);
}

TEST(EpollTest, NestedInstanceReportsInner) {
  Fds f;
  int outer = epoll_create1(EPOLL_CLOEXEC);
  ASSERT_EQ(Add(f.ep, f.r, EPOLLIN, 1), 0);
  ASSERT_EQ(Add(outer, f.ep, EPOLLIN, 2), 0);
  struct epoll_event ev[2];
  EXPECT_EQ(Wait(outer, ev, 2, 0), 0);
  ASSERT_EQ(write(f.w, "x", 1), 1);
  ASSERT_EQ(Wait(outer, ev, 2, 1000), 1);
  EXPECT_EQ(ev[0].data.u64, 2u);
  EXPECT_EQ(ev[0].events, static_cast<uint32_t>(EPOLLIN));
  // A loop is refused.
  EXPECT_EQ(ErrnoOf(Add(f.ep, outer, EPOLLIN, 3)), ELOOP);
  close(outer);
}

TEST(EpollTest, ChainLongerThanFiveIsEloop) {
  int eps[6];
  for (int& e : eps) e = epoll_create1(EPOLL_CLOEXEC);
  for (int i = 1; i < 5; ++i) ASSERT_EQ(Add(eps[i], eps[i - 1], EPOLLIN, i), 0);
  EXPECT_EQ(ErrnoOf(Add(eps[5], eps[4], EPOLLIN, 5)), ELOOP);
  for (int e : eps) close(e);
}

TEST(EpollTest, ClosingLastFdRemovesEntry) {
  Fds f;
  ASSERT_EQ(Add(f.ep, f.r, EPOLLIN, 1), 0);
  ASSERT_EQ(write(f.w, "x", 1), 1);
  int dup_r = dup(f.r);
  ASSERT_GE(dup_r, 0);
  close(f.r);
  struct epoll_event ev[2];
  // Another fd still refers to the pipe end: the entry stays.
  ASSERT_EQ(Wait(f.ep, ev, 2, 0), 1);
  EXPECT_EQ(ev[0].data.u64, 1u);
  close(dup_r);
  f.r = -1;
  EXPECT_EQ(Wait(f.ep, ev, 2, 0), 0);
  // The same fd number can be added again for another file.
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  EXPECT_EQ(Add(f.ep, p[0], EPOLLIN, 5), 0);
  close(p[0]);
  close(p[1]);
}

TEST(EpollTest, WaitTimeout) {
  Fds f;
  ASSERT_EQ(Add(f.ep, f.r, EPOLLIN, 1), 0);
  struct epoll_event ev[2];
  int64_t start = NowMs();
  EXPECT_EQ(Wait(f.ep, ev, 2, 60), 0);
  EXPECT_GE(NowMs() - start, 55);
  EXPECT_EQ(ErrnoOf(Wait(f.ep, ev, 0, 0)), EINVAL);
  EXPECT_EQ(ErrnoOf(Wait(f.r, ev, 2, 0)), EINVAL);
}

TEST(EpollTest, MaxEventsRotatesReadyEntries) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  int efds[3];
  for (int i = 0; i < 3; ++i) {
    efds[i] = eventfd(1, EFD_CLOEXEC);
    ASSERT_EQ(Add(ep, efds[i], EPOLLIN, i), 0);
  }
  bool seen[3] = {};
  struct epoll_event ev;
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(Wait(ep, &ev, 1, 0), 1);
    seen[ev.data.u64] = true;
  }
  EXPECT_TRUE(seen[0] && seen[1] && seen[2]);
  for (int fd : efds) close(fd);
  close(ep);
}

TEST(EpollTest, EventfdEdgeTriggered) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  ASSERT_EQ(Add(ep, efd, EPOLLIN | EPOLLOUT | EPOLLET, 3), 0);
  struct epoll_event ev[2];
  ASSERT_EQ(Wait(ep, ev, 2, 0), 1);
  EXPECT_EQ(ev[0].events, static_cast<uint32_t>(EPOLLOUT));
  EXPECT_EQ(Wait(ep, ev, 2, 0), 0);
  uint64_t one = 1;
  ASSERT_EQ(write(efd, &one, 8), 8);
  ASSERT_EQ(Wait(ep, ev, 2, 0), 1);
  EXPECT_EQ(ev[0].events, static_cast<uint32_t>(EPOLLIN | EPOLLOUT));
  EXPECT_EQ(Wait(ep, ev, 2, 0), 0);
  close(efd);
  close(ep);
}

struct WaiterArgs {
  int ep;
  int result;
  uint64_t data;
};

void* WaitForever(void* arg) {
  auto* w = static_cast<WaiterArgs*>(arg);
  struct epoll_event ev;
  w->result = epoll_wait(w->ep, &ev, 1, -1);
  w->data = ev.data.u64;
  return nullptr;
}

TEST(EpollTest, ThreadInEpollWaitWokenByWrite) {
  Fds f;
  ASSERT_EQ(Add(f.ep, f.r, EPOLLIN, 42), 0);
  WaiterArgs args = {f.ep, -2, 0};
  pthread_t th;
  ASSERT_EQ(pthread_create(&th, nullptr, WaitForever, &args), 0);
  usleep(50 * 1000);
  ASSERT_EQ(write(f.w, "x", 1), 1);
  ASSERT_EQ(pthread_join(th, nullptr), 0);
  EXPECT_EQ(args.result, 1);
  EXPECT_EQ(args.data, 42u);
}

volatile sig_atomic_t g_handled;
void CountSignal(int) { g_handled = g_handled + 1; }

TEST(EpollTest, PwaitMaskAndEintr) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = CountSignal;
  sa.sa_flags = SA_RESTART;
  ASSERT_EQ(sigaction(SIGUSR1, &sa, nullptr), 0);
  g_handled = 0;
  sigset_t block, old, empty;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  sigemptyset(&empty);
  ASSERT_EQ(sigprocmask(SIG_BLOCK, &block, &old), 0);
  ASSERT_EQ(kill(getpid(), SIGUSR1), 0);
  Fds f;
  ASSERT_EQ(Add(f.ep, f.r, EPOLLIN, 1), 0);
  struct epoll_event ev;
  EXPECT_EQ(epoll_pwait(f.ep, &ev, 1, 0, &block), 0);
  EXPECT_EQ(g_handled, 0);
  EXPECT_EQ(ErrnoOf(epoll_pwait(f.ep, &ev, 1, 5000, &empty)), EINTR);
  EXPECT_EQ(g_handled, 1);
  sigset_t now;
  ASSERT_EQ(sigprocmask(SIG_BLOCK, nullptr, &now), 0);
  EXPECT_TRUE(sigismember(&now, SIGUSR1));
  ASSERT_EQ(sigprocmask(SIG_SETMASK, &old, nullptr), 0);
  signal(SIGUSR1, SIG_DFL);
}

TEST(EpollTest, Pwait2Timespec) {
  Fds f;
  ASSERT_EQ(Add(f.ep, f.r, EPOLLIN, 1), 0);
  struct epoll_event ev;
  struct timespec ts = {0, 30 * 1000000};
  int64_t start = NowMs();
  EXPECT_EQ(syscall(SYS_epoll_pwait2, f.ep, &ev, 1, &ts, nullptr, 8), 0);
  EXPECT_GE(NowMs() - start, 25);
  ASSERT_EQ(write(f.w, "x", 1), 1);
  EXPECT_EQ(syscall(SYS_epoll_pwait2, f.ep, &ev, 1, nullptr, nullptr, 8), 1);
}

}  // namespace
