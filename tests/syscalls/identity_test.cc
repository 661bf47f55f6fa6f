// Who the process is: uname and the id getters.
#include <gtest/gtest.h>
#include <string.h>
#include <sys/utsname.h>

#include <string>

#include "syscall_test_util.h"

namespace moat_test {
namespace {

TEST(Uname, FieldsDescribeAnX86_64Linux) {
  struct utsname u;
  memset(&u, 0xff, sizeof(u));  // unterminated garbage unless filled
  ASSERT_EQ(syscall(SYS_uname, &u), 0) << "errno " << errno;
  for (const char* field : {u.sysname, u.nodename, u.release, u.version,
                            u.machine, u.domainname}) {
    ASSERT_NE(memchr(field, '\0', sizeof(u.sysname)), nullptr)
        << "field not NUL-terminated";
  }
  EXPECT_STREQ(u.sysname, "Linux");
  EXPECT_STREQ(u.machine, "x86_64");
  EXPECT_STRNE(u.nodename, "");
  EXPECT_STRNE(u.version, "");
  // Programs parse the release as MAJOR.MINOR[.PATCH...]; glibc needs >= 3.2.
  int major = 0, minor = 0;
  ASSERT_EQ(sscanf(u.release, "%d.%d", &major, &minor), 2) << u.release;
  EXPECT_GE(major * 1000 + minor, 3002) << u.release;
}

TEST(Uname, BadPointerIsEfault) {
  EXPECT_EQ(ErrnoOf(syscall(SYS_uname, reinterpret_cast<void*>(0x10))),
            EFAULT);
}

TEST(Ids, PidsArePositiveAndThreadIdIsPidInASingleThread) {
  const long pid = syscall(SYS_getpid);
  EXPECT_GT(pid, 0);
  EXPECT_EQ(syscall(SYS_gettid), pid);
  EXPECT_EQ(getpid(), pid);  // the libc wrapper caches nothing stale
  const long ppid = syscall(SYS_getppid);
  EXPECT_GE(ppid, 0);  // 0 for a sandbox's init, whose parent is outside
  EXPECT_NE(ppid, pid);
}

TEST(Ids, ProcessGroupGettersAgree) {
  const long pid = syscall(SYS_getpid);
  const long pgrp = syscall(SYS_getpgrp);
  EXPECT_GT(pgrp, 0);
  EXPECT_EQ(syscall(SYS_getpgid, 0), pgrp);
  EXPECT_EQ(syscall(SYS_getpgid, pid), pgrp);
  const long sid = syscall(SYS_getsid, 0);
  EXPECT_GT(sid, 0);
  EXPECT_EQ(syscall(SYS_getsid, pid), sid);
}

TEST(Ids, UnknownPidIsEsrch) {
  // Larger than any pid_max Linux allows (2^22).
  EXPECT_EQ(ErrnoOf(syscall(SYS_getpgid, 0x3fffffff)), ESRCH);
  EXPECT_EQ(ErrnoOf(syscall(SYS_getsid, 0x3fffffff)), ESRCH);
}

TEST(Ids, UserAndGroupIdsAreConsistent) {
  // Not a set-id program, so real and effective ids match.
  EXPECT_EQ(syscall(SYS_getuid), syscall(SYS_geteuid));
  EXPECT_EQ(syscall(SYS_getgid), syscall(SYS_getegid));
  EXPECT_EQ(static_cast<long>(getuid()), syscall(SYS_getuid));
  EXPECT_EQ(static_cast<long>(getgid()), syscall(SYS_getgid));
}

TEST(Ids, IdsAreStableAcrossCalls) {
  const long pid = syscall(SYS_getpid);
  const long uid = syscall(SYS_getuid);
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(syscall(SYS_getpid), pid);
    ASSERT_EQ(syscall(SYS_getuid), uid);
  }
}

TEST(SetTidAddress, ReturnsTheCallersTid) {
  // The kernel clears this word when the thread exits; a static one is safe.
  static int clear_child_tid = 0;
  EXPECT_EQ(syscall(SYS_set_tid_address, &clear_child_tid),
            syscall(SYS_gettid));
}

}  // namespace
}  // namespace moat_test
