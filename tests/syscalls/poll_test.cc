// poll, ppoll, select and pselect6 on pipes (man 2 poll, man 2 select,
// pipe(7)): readiness after a write, POLLHUP once the writer is gone,
// POLLERR once the reader is gone, POLLNVAL for closed fds, timeouts, the
// raw select's timeout write-back, ppoll/pselect6's temporary signal mask,
// EINTR after a handler even with SA_RESTART (man 7 signal), and wake-ups
// by another process.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gtest/gtest.h"
#include "syscall_test_util.h"

using moat_test::ErrnoOf;
using moat_test::NowMs;

namespace {

class Pipe {
 public:
  Pipe() { EXPECT_EQ(pipe2(fds_, O_CLOEXEC), 0); }
  ~Pipe() {
    CloseRead();
    CloseWrite();
  }
  int r() const { return fds_[0]; }
  int w() const { return fds_[1]; }
  void CloseRead() {
    if (fds_[0] >= 0) close(fds_[0]);
    fds_[0] = -1;
  }
  void CloseWrite() {
    if (fds_[1] >= 0) close(fds_[1]);
    fds_[1] = -1;
  }

 private:
  int fds_[2] = {-1, -1};
};

volatile sig_atomic_t g_handled;
void CountSignal(int) { g_handled = g_handled + 1; }

void InstallHandler(int sig, int flags) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = CountSignal;
  sa.sa_flags = flags;
  sigemptyset(&sa.sa_mask);
  ASSERT_EQ(sigaction(sig, &sa, nullptr), 0);
}

// Forks a child that sleeps `ms` and then sends `sig` to the parent.
pid_t SignalParentAfter(int ms, int sig) {
  pid_t parent = getpid();
  pid_t child = fork();
  if (child == 0) {
    usleep(ms * 1000);
    kill(parent, sig);
    _exit(0);
  }
  return child;
}

void Reap(pid_t child) {
  int status;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status));
}

TEST(PollTest, PipeReadableOnlyAfterWrite) {
  Pipe p;
  struct pollfd pfd = {p.r(), POLLIN, 0};
  EXPECT_EQ(poll(&pfd, 1, 0), 0);
  EXPECT_EQ(pfd.revents, 0);
  ASSERT_EQ(write(p.w(), "x", 1), 1);
  ASSERT_EQ(poll(&pfd, 1, 0), 1);
  EXPECT_EQ(pfd.revents, POLLIN);
}

TEST(PollTest, PipeHangupAfterWriterCloses) {
  Pipe p;
  ASSERT_EQ(write(p.w(), "x", 1), 1);
  p.CloseWrite();
  struct pollfd pfd = {p.r(), POLLIN, 0};
  ASSERT_EQ(poll(&pfd, 1, 0), 1);
  EXPECT_EQ(pfd.revents, POLLIN | POLLHUP);
  char c;
  ASSERT_EQ(read(p.r(), &c, 1), 1);
  // Empty with no writer: POLLHUP only, reported though not asked for.
  pfd.events = 0;
  ASSERT_EQ(poll(&pfd, 1, 0), 1);
  EXPECT_EQ(pfd.revents, POLLHUP);
}

TEST(PollTest, PipeWriteEndWritableThenErrorWithoutReader) {
  Pipe p;
  struct pollfd pfd = {p.w(), POLLOUT, 0};
  ASSERT_EQ(poll(&pfd, 1, 0), 1);
  EXPECT_EQ(pfd.revents, POLLOUT);
  p.CloseRead();
  ASSERT_EQ(poll(&pfd, 1, 0), 1);
  EXPECT_TRUE(pfd.revents & POLLERR);
}

TEST(PollTest, FullPipeIsNotWritable) {
  Pipe p;
  ASSERT_EQ(fcntl(p.w(), F_SETFL, O_NONBLOCK), 0);
  char buf[4096] = {};
  while (write(p.w(), buf, sizeof(buf)) > 0) {
  }
  struct pollfd pfd = {p.w(), POLLOUT, 0};
  EXPECT_EQ(poll(&pfd, 1, 0), 0);
}

TEST(PollTest, BadAndNegativeFds) {
  Pipe p;
  ASSERT_EQ(write(p.w(), "x", 1), 1);
  struct pollfd pfds[3] = {{-1, POLLIN, 0}, {1000, POLLIN, 0}, {p.r(), POLLIN, 0}};
  ASSERT_EQ(poll(pfds, 3, 0), 2);
  EXPECT_EQ(pfds[0].revents, 0);
  EXPECT_EQ(pfds[1].revents, POLLNVAL);
  EXPECT_EQ(pfds[2].revents, POLLIN);
}

TEST(PollTest, SmallTimeoutExpires) {
  Pipe p;
  struct pollfd pfd = {p.r(), POLLIN, 0};
  int64_t start = NowMs();
  EXPECT_EQ(poll(&pfd, 1, 60), 0);
  EXPECT_GE(NowMs() - start, 55);
}

TEST(PollTest, NoFdsIsASleep) {
  int64_t start = NowMs();
  EXPECT_EQ(poll(nullptr, 0, 30), 0);
  EXPECT_GE(NowMs() - start, 25);
}

TEST(PollTest, WokenByChildProcessWrite) {
  Pipe p;
  pid_t child = fork();
  if (child == 0) {
    usleep(50 * 1000);
    _exit(write(p.w(), "c", 1) == 1 ? 0 : 1);
  }
  struct pollfd pfd = {p.r(), POLLIN, 0};
  EXPECT_EQ(poll(&pfd, 1, 5000), 1);
  EXPECT_EQ(pfd.revents, POLLIN);
  Reap(child);
}

TEST(PollTest, InterruptedByHandlerIsEintrEvenWithSaRestart) {
  InstallHandler(SIGUSR1, SA_RESTART);
  g_handled = 0;
  Pipe p;
  pid_t child = SignalParentAfter(50, SIGUSR1);
  struct pollfd pfd = {p.r(), POLLIN, 0};
  EXPECT_EQ(ErrnoOf(poll(&pfd, 1, 5000)), EINTR);
  EXPECT_EQ(g_handled, 1);
  Reap(child);
  signal(SIGUSR1, SIG_DFL);
}

TEST(PollTest, PpollTemporaryMaskLetsBlockedSignalIn) {
  InstallHandler(SIGUSR1, 0);
  g_handled = 0;
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  ASSERT_EQ(sigprocmask(SIG_BLOCK, &block, &old), 0);
  ASSERT_EQ(kill(getpid(), SIGUSR1), 0);  // Pending, blocked.
  EXPECT_EQ(g_handled, 0);
  Pipe p;
  struct pollfd pfd = {p.r(), POLLIN, 0};
  struct timespec ts = {5, 0};
  // With SIGUSR1 still blocked in the wait mask: a plain timeout.
  struct timespec zero = {0, 0};
  EXPECT_EQ(ppoll(&pfd, 1, &zero, &block), 0);
  EXPECT_EQ(g_handled, 0);
  sigset_t empty;
  sigemptyset(&empty);
  EXPECT_EQ(ErrnoOf(ppoll(&pfd, 1, &ts, &empty)), EINTR);
  EXPECT_EQ(g_handled, 1);
  // The old mask (SIGUSR1 blocked) is back after the handler.
  sigset_t now;
  ASSERT_EQ(sigprocmask(SIG_BLOCK, nullptr, &now), 0);
  EXPECT_TRUE(sigismember(&now, SIGUSR1));
  ASSERT_EQ(sigprocmask(SIG_SETMASK, &old, nullptr), 0);
  signal(SIGUSR1, SIG_DFL);
}

TEST(PollTest, PpollRestoresMaskWhenReady) {
  Pipe p;
  ASSERT_EQ(write(p.w(), "x", 1), 1);
  sigset_t all, before, after;
  sigfillset(&all);
  ASSERT_EQ(sigprocmask(SIG_BLOCK, nullptr, &before), 0);
  struct pollfd pfd = {p.r(), POLLIN, 0};
  EXPECT_EQ(ppoll(&pfd, 1, nullptr, &all), 1);
  ASSERT_EQ(sigprocmask(SIG_BLOCK, nullptr, &after), 0);
  EXPECT_EQ(sigismember(&after, SIGUSR2), sigismember(&before, SIGUSR2));
}

TEST(PollTest, PpollBadSigsetSizeIsEinval) {
  sigset_t empty;
  sigemptyset(&empty);
  struct timespec zero = {0, 0};
  EXPECT_EQ(ErrnoOf(syscall(SYS_ppoll, nullptr, 0, &zero, &empty, 4)), EINVAL);
  struct timespec bad = {0, 1000000000};
  EXPECT_EQ(ErrnoOf(syscall(SYS_ppoll, nullptr, 0, &bad, nullptr, 8)), EINVAL);
}

TEST(SelectTest, ReadAndWriteSets) {
  Pipe p;
  fd_set rd, wr;
  FD_ZERO(&rd);
  FD_ZERO(&wr);
  FD_SET(p.r(), &rd);
  FD_SET(p.w(), &wr);
  struct timeval tv = {0, 0};
  int nfds = std::max(p.r(), p.w()) + 1;
  ASSERT_EQ(select(nfds, &rd, &wr, nullptr, &tv), 1);
  EXPECT_FALSE(FD_ISSET(p.r(), &rd));
  EXPECT_TRUE(FD_ISSET(p.w(), &wr));
  ASSERT_EQ(write(p.w(), "x", 1), 1);
  FD_SET(p.r(), &rd);
  ASSERT_EQ(select(nfds, &rd, &wr, nullptr, &tv), 2);
  EXPECT_TRUE(FD_ISSET(p.r(), &rd));
  EXPECT_TRUE(FD_ISSET(p.w(), &wr));
}

TEST(SelectTest, HangupMakesReadable) {
  Pipe p;
  p.CloseWrite();
  fd_set rd;
  FD_ZERO(&rd);
  FD_SET(p.r(), &rd);
  struct timeval tv = {1, 0};
  ASSERT_EQ(select(p.r() + 1, &rd, nullptr, nullptr, &tv), 1);
  EXPECT_TRUE(FD_ISSET(p.r(), &rd));
}

TEST(SelectTest, ClosedFdIsEbadf) {
  int fd = dup(0);
  ASSERT_GE(fd, 0);
  close(fd);
  fd_set rd;
  FD_ZERO(&rd);
  FD_SET(fd, &rd);
  struct timeval tv = {0, 0};
  EXPECT_EQ(ErrnoOf(syscall(SYS_select, fd + 1, &rd, nullptr, nullptr, &tv)),
            EBADF);
  EXPECT_EQ(ErrnoOf(syscall(SYS_select, -1, nullptr, nullptr, nullptr, &tv)),
            EINVAL);
}

TEST(SelectTest, RawSelectWritesBackTimeLeft) {
  Pipe p;
  fd_set rd;
  FD_ZERO(&rd);
  FD_SET(p.r(), &rd);
  struct timeval tv = {0, 50000};
  int64_t start = NowMs();
  EXPECT_EQ(syscall(SYS_select, p.r() + 1, &rd, nullptr, nullptr, &tv), 0);
  EXPECT_GE(NowMs() - start, 45);
  EXPECT_EQ(tv.tv_sec, 0);
  EXPECT_EQ(tv.tv_usec, 0);
  EXPECT_FALSE(FD_ISSET(p.r(), &rd));
  // Ready at once: most of the timeout is left.
  ASSERT_EQ(write(p.w(), "x", 1), 1);
  FD_SET(p.r(), &rd);
  tv = {10, 0};
  EXPECT_EQ(syscall(SYS_select, p.r() + 1, &rd, nullptr, nullptr, &tv), 1);
  EXPECT_EQ(tv.tv_sec * 1000000 + tv.tv_usec > 9000000, true);
}

TEST(SelectTest, Pselect6WithMaskIsInterrupted) {
  InstallHandler(SIGUSR2, SA_RESTART);
  g_handled = 0;
  sigset_t block, old, empty;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR2);
  sigemptyset(&empty);
  ASSERT_EQ(sigprocmask(SIG_BLOCK, &block, &old), 0);
  pid_t child = SignalParentAfter(50, SIGUSR2);
  Pipe p;
  fd_set rd;
  FD_ZERO(&rd);
  FD_SET(p.r(), &rd);
  struct timespec ts = {5, 0};
  EXPECT_EQ(ErrnoOf(pselect(p.r() + 1, &rd, nullptr, nullptr, &ts, &empty)),
            EINTR);
  EXPECT_EQ(g_handled, 1);
  Reap(child);
  ASSERT_EQ(sigprocmask(SIG_SETMASK, &old, nullptr), 0);
  signal(SIGUSR2, SIG_DFL);
}

}  // namespace
