// Credentials: set*uid, set*gid, getgroups/setgroups, as root and after
// dropping privileges. Each case runs in a forked child so the test process
// keeps its own ids. Needs to start as root (CI and the sandbox do).
#include <errno.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>

namespace {

long Raw(long nr, long a = 0, long b = 0, long c = 0) {
  return syscall(nr, a, b, c);
}

// Runs `body` in a child; the child's exit code is the number of the first
// failed check (0: all passed).
int InChild(const std::function<int()>& body) {
  pid_t pid = fork();
  if (pid == 0) _exit(body());
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

class Creds : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs to start as root";
  }
};

TEST_F(Creds, RootMayTakeAnyIdsAndComeBackThroughTheSavedId) {
  EXPECT_EQ(InChild([] {
              if (Raw(SYS_setresuid, -1, 1000, -1) != 0) return 1;
              if (geteuid() != 1000 || getuid() != 0) return 2;
              uid_t r, e, s;
              if (getresuid(&r, &e, &s) != 0 || s != 0) return 3;
              // Unprivileged now, but 0 is the real and saved id.
              if (Raw(SYS_setuid, 0) != 0 || geteuid() != 0) return 4;
              return 0;
            }),
            0);
}

TEST_F(Creds, DroppingAllIdsIsFinal) {
  EXPECT_EQ(InChild([] {
              if (Raw(SYS_setresgid, 2000, 2000, 2000) != 0) return 1;
              if (Raw(SYS_setresuid, 1000, 1000, 1000) != 0) return 2;
              if (getuid() != 1000 || getgid() != 2000) return 3;
              errno = 0;
              if (Raw(SYS_setuid, 0) != -1 || errno != EPERM) return 4;
              if (Raw(SYS_setresuid, -1, 0, -1) != -1 || errno != EPERM) return 5;
              if (Raw(SYS_setgid, 0) != -1 || errno != EPERM) return 6;
              // Setting an id to one it already holds is allowed.
              if (Raw(SYS_setuid, 1000) != 0) return 7;
              gid_t g = 5;
              if (Raw(SYS_setgroups, 1, reinterpret_cast<long>(&g)) != -1 ||
                  errno != EPERM)
                return 8;
              return 0;
            }),
            0);
}

TEST_F(Creds, SetreuidUpdatesTheSavedId) {
  EXPECT_EQ(InChild([] {
              if (Raw(SYS_setreuid, 1000, 1001) != 0) return 1;
              uid_t r, e, s;
              if (getresuid(&r, &e, &s) != 0) return 2;
              if (r != 1000 || e != 1001 || s != 1001) return 3;
              return 0;
            }),
            0);
}

TEST_F(Creds, SupplementaryGroupsRoundTrip) {
  EXPECT_EQ(InChild([] {
              gid_t set[3] = {10, 20, 30};
              if (Raw(SYS_setgroups, 3, reinterpret_cast<long>(set)) != 0) return 1;
              if (Raw(SYS_getgroups, 0, 0) != 3) return 2;
              gid_t got[3] = {};
              if (Raw(SYS_getgroups, 3, reinterpret_cast<long>(got)) != 3) return 3;
              if (got[0] != 10 || got[1] != 20 || got[2] != 30) return 4;
              gid_t small[1];
              errno = 0;
              if (Raw(SYS_getgroups, 1, reinterpret_cast<long>(small)) != -1 ||
                  errno != EINVAL)
                return 5;
              return 0;
            }),
            0);
}

}  // namespace
