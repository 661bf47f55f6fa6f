// Processes and threads: fork, vfork, clone threads, wait4/waitid, kill,
// tgkill, getppid, sessions and process groups, futex-based joins.
#include <errno.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>

namespace {

long Raw(long nr, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0) {
  return syscall(nr, a, b, c, d, e);
}

int ErrnoOf(long r) { return r == -1 ? errno : 0; }

TEST(Fork, ChildExitStatusReachesParent) {
  pid_t child = Raw(SYS_fork);
  ASSERT_GE(child, 0);
  if (child == 0) syscall(SYS_exit_group, 42);
  int status = 0;
  ASSERT_EQ(Raw(SYS_wait4, child, reinterpret_cast<long>(&status), 0, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 42);
  // Reaped: no children left.
  EXPECT_EQ(ErrnoOf(Raw(SYS_wait4, -1, 0, 0, 0)), ECHILD);
}

TEST(Fork, ChildSeesItsOwnCopyOfMemory) {
  static volatile int value = 1;
  pid_t child = Raw(SYS_fork);
  ASSERT_GE(child, 0);
  if (child == 0) {
    value = 2;  // Copy-on-write: the parent keeps 1.
    syscall(SYS_exit_group, value == 2 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(Raw(SYS_wait4, child, reinterpret_cast<long>(&status), 0, 0), child);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(value, 1);
}

TEST(Fork, GetppidInChildIsParent) {
  pid_t self = Raw(SYS_getpid);
  pid_t child = Raw(SYS_fork);
  ASSERT_GE(child, 0);
  if (child == 0) syscall(SYS_exit_group, Raw(SYS_getppid) == self ? 0 : 1);
  int status = 0;
  ASSERT_EQ(Raw(SYS_wait4, child, reinterpret_cast<long>(&status), 0, 0), child);
  EXPECT_EQ(status, 0);
  EXPECT_NE(child, self);
}

TEST(Vfork, ParentWaitsForChildExit) {
  static volatile int written = 0;
  pid_t child = vfork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    written = 7;  // Shared memory: the parent sees it.
    _exit(3);
  }
  EXPECT_EQ(written, 7);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_EQ(WEXITSTATUS(status), 3);
}

TEST(Wait, NohangReturnsZeroWhileChildRuns) {
  int pipe_unused = 0;
  (void)pipe_unused;
  pid_t child = Raw(SYS_fork);
  ASSERT_GE(child, 0);
  if (child == 0) {
    struct timespec ts = {0, 200 * 1000 * 1000};
    syscall(SYS_nanosleep, &ts, nullptr);
    syscall(SYS_exit_group, 5);
  }
  int status = 0;
  EXPECT_EQ(Raw(SYS_wait4, child, reinterpret_cast<long>(&status), WNOHANG, 0), 0);
  ASSERT_EQ(Raw(SYS_wait4, child, reinterpret_cast<long>(&status), 0, 0), child);
  EXPECT_EQ(WEXITSTATUS(status), 5);
}

TEST(Wait, WaitidReportsExitCode) {
  pid_t child = Raw(SYS_fork);
  ASSERT_GE(child, 0);
  if (child == 0) syscall(SYS_exit_group, 9);
  siginfo_t info{};
  ASSERT_EQ(Raw(SYS_waitid, P_PID, child, reinterpret_cast<long>(&info), WEXITED, 0), 0);
  EXPECT_EQ(info.si_signo, SIGCHLD);
  EXPECT_EQ(info.si_code, CLD_EXITED);
  EXPECT_EQ(info.si_pid, child);
  EXPECT_EQ(info.si_status, 9);
  EXPECT_EQ(ErrnoOf(Raw(SYS_waitid, P_ALL, 0, reinterpret_cast<long>(&info), 0, 0)),
            EINVAL);
}

TEST(Wait, NoChildrenIsEchild) {
  EXPECT_EQ(ErrnoOf(Raw(SYS_wait4, -1, 0, 0, 0)), ECHILD);
  EXPECT_EQ(ErrnoOf(Raw(SYS_wait4, 999999, 0, 0, 0)), ECHILD);
}

TEST(Kill, KillsAChildWithADefaultActionSignal) {
  pid_t child = Raw(SYS_fork);
  ASSERT_GE(child, 0);
  if (child == 0) {
    while (true) {
      struct timespec ts = {1, 0};
      syscall(SYS_nanosleep, &ts, nullptr);
    }
  }
  EXPECT_EQ(Raw(SYS_kill, child, 0), 0);  // Exists.
  EXPECT_EQ(Raw(SYS_kill, child, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(Raw(SYS_wait4, child, reinterpret_cast<long>(&status), 0, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
}

TEST(Kill, Errors) {
  EXPECT_EQ(ErrnoOf(Raw(SYS_kill, 999999, 0)), ESRCH);
  EXPECT_EQ(ErrnoOf(Raw(SYS_kill, Raw(SYS_getpid), 65)), EINVAL);
  EXPECT_EQ(ErrnoOf(Raw(SYS_tgkill, Raw(SYS_getpid), 999999, 0)), ESRCH);
  EXPECT_EQ(Raw(SYS_tgkill, Raw(SYS_getpid), Raw(SYS_gettid), 0), 0);
}

TEST(Session, SetsidInChildMakesANewSessionAndGroup) {
  pid_t child = Raw(SYS_fork);
  ASSERT_GE(child, 0);
  if (child == 0) {
    pid_t me = Raw(SYS_getpid);
    bool ok = Raw(SYS_setsid) == me && Raw(SYS_getsid, 0) == me &&
              Raw(SYS_getpgid, 0) == me && Raw(SYS_getpgrp) == me &&
              ErrnoOf(Raw(SYS_setsid)) == EPERM;  // Already a leader.
    syscall(SYS_exit_group, ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(Raw(SYS_wait4, child, reinterpret_cast<long>(&status), 0, 0), child);
  EXPECT_EQ(status, 0);
}

TEST(Session, SetpgidMovesAChild) {
  pid_t child = Raw(SYS_fork);
  ASSERT_GE(child, 0);
  if (child == 0) {
    struct timespec ts = {0, 300 * 1000 * 1000};
    syscall(SYS_nanosleep, &ts, nullptr);
    syscall(SYS_exit_group, Raw(SYS_getpgid, 0) == Raw(SYS_getpid) ? 0 : 1);
  }
  EXPECT_EQ(Raw(SYS_setpgid, child, 0), 0);
  EXPECT_EQ(Raw(SYS_getpgid, child), child);
  int status = 0;
  ASSERT_EQ(Raw(SYS_wait4, child, reinterpret_cast<long>(&status), 0, 0), child);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(ErrnoOf(Raw(SYS_setpgid, 0, -1)), EINVAL);
}

void* AddMany(void* arg) {
  auto* shared = static_cast<std::pair<pthread_mutex_t*, long*>*>(arg);
  for (int i = 0; i < 20000; ++i) {
    pthread_mutex_lock(shared->first);
    ++*shared->second;
    pthread_mutex_unlock(shared->first);
  }
  return reinterpret_cast<void*>(static_cast<long>(syscall(SYS_gettid)));
}

TEST(Threads, MutexAndJoinAcrossFourThreads) {
  pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  long counter = 0;
  std::pair<pthread_mutex_t*, long*> shared{&mu, &counter};
  pthread_t threads[4];
  for (auto& th : threads) {
    ASSERT_EQ(pthread_create(&th, nullptr, AddMany, &shared), 0);
  }
  pid_t self = Raw(SYS_getpid);
  for (auto& th : threads) {
    void* ret = nullptr;
    ASSERT_EQ(pthread_join(th, &ret), 0);
    long tid = reinterpret_cast<long>(ret);
    EXPECT_NE(tid, self);  // Each thread has its own tid.
  }
  EXPECT_EQ(counter, 4 * 20000);
}

TEST(Threads, ThreadsShareThePidAndSeeEachOthersWrites) {
  static std::atomic<int> flag{0};
  static pid_t thread_pid = 0;
  pthread_t th;
  ASSERT_EQ(pthread_create(
                &th, nullptr,
                [](void*) -> void* {
                  thread_pid = syscall(SYS_getpid);
                  flag.store(1);
                  return nullptr;
                },
                nullptr),
            0);
  ASSERT_EQ(pthread_join(th, nullptr), 0);
  EXPECT_EQ(flag.load(), 1);
  EXPECT_EQ(thread_pid, Raw(SYS_getpid));
}

}  // namespace
