#include "sentry/syscalls/syscall_table.h"

#include <sys/syscall.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace moat {
namespace {

using ::testing::HasSubstr;

TEST(SyscallTableTest, EveryLinuxSyscallHasAName) {
  const SyscallTable& table = SyscallTable::Get();
  EXPECT_STREQ(table.Find(SYS_read)->name, "read");
  EXPECT_STREQ(table.Find(SYS_exit_group)->name, "exit_group");
  EXPECT_STREQ(table.Find(SYS_clone3)->name, "clone3");
  EXPECT_EQ(table.Find(SyscallTable::kSize), nullptr);
  // 335..423 are unassigned on x86-64.
  EXPECT_EQ(table.Find(400)->name, nullptr);
}

TEST(SyscallTableTest, FoundationSyscallsAreImplemented) {
  const SyscallTable& table = SyscallTable::Get();
  for (int nr :
       {SYS_read, SYS_write, SYS_readv, SYS_writev, SYS_pread64, SYS_pwrite64,
        SYS_exit, SYS_exit_group, SYS_brk, SYS_mmap, SYS_munmap, SYS_mprotect,
        SYS_mremap, SYS_madvise, SYS_arch_prctl, SYS_set_tid_address,
        SYS_set_robust_list, SYS_rseq, SYS_uname, SYS_getpid, SYS_getuid,
        SYS_clock_gettime, SYS_clock_getres, SYS_gettimeofday, SYS_time,
        SYS_nanosleep, SYS_clock_nanosleep, SYS_getrandom, SYS_ioctl,
        SYS_rt_sigaction, SYS_rt_sigprocmask, SYS_sigaltstack, SYS_prlimit64,
        SYS_getrlimit, SYS_sched_getaffinity, SYS_sched_yield, SYS_sysinfo,
        SYS_getcpu, SYS_prctl}) {
    const SyscallEntry* e = table.Find(nr);
    ASSERT_NE(e, nullptr);
    EXPECT_NE(e->fn, nullptr) << e->name;
    EXPECT_NE(e->support, Support::kMissing) << e->name;
    if (e->support != Support::kFull) {
      EXPECT_STRNE(e->note, "") << e->name << " is not full: say why";
    }
  }
  // Not implemented yet: missing, with no handler.
  EXPECT_EQ(table.Find(SYS_io_setup)->support, Support::kMissing);
  EXPECT_EQ(table.Find(SYS_io_setup)->fn, nullptr);
}

TEST(SyscallTableTest, DocumentsListEverySyscall) {
  const SyscallTable& table = SyscallTable::Get();
  std::string md = table.Markdown();
  EXPECT_THAT(md, HasSubstr("| 57 | `fork` | full |"));
  EXPECT_THAT(md, HasSubstr("| 206 | `io_setup` | missing |"));
  EXPECT_THAT(md, HasSubstr("Do not edit by hand"));
  std::string text = table.Text();
  EXPECT_THAT(text, HasSubstr("exit_group"));
  EXPECT_THAT(text, HasSubstr(" missing\n"));
}

TEST(StraceTest, FormatsLikeStrace) {
  const SyscallTable& table = SyscallTable::Get();
  SyscallArgs args{{1, 0x1000, 6}};
  // Without a task, buffers print as addresses.
  EXPECT_EQ(FormatStraceLine(nullptr, *table.Find(SYS_write), SYS_write, args,
                             6, true),
            "write(1, 0x1000, 6) = 6");
  EXPECT_EQ(FormatStraceLine(nullptr, *table.Find(SYS_write), SYS_write, args,
                             Errno{EBADF}, true),
            "write(1, 0x1000, 6) = -1 EBADF (Bad file descriptor)");
  EXPECT_EQ(FormatStraceLine(nullptr, *table.Find(SYS_exit_group),
                             SYS_exit_group, SyscallArgs{{7}}, 0, false),
            "exit_group(7) = ?");
  EXPECT_EQ(FormatStraceLine(nullptr, *table.Find(SYS_brk), SYS_brk,
                             SyscallArgs{{0}}, uint64_t{0x4e2000}, true),
            "brk(NULL) = 0x4e2000");
}

}  // namespace
}  // namespace moat
