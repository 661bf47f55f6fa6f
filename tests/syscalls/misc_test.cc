// The rest of the early syscall surface: getrandom, resource limits, CPU
// affinity and scheduling, sysinfo, getcpu, prctl names, arch_prctl, signal
// dispositions and masks, sigaltstack, terminal ioctls and fstat on stdio.
#include <asm/prctl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <termios.h>
#include <fcntl.h>

#include <set>
#include <string>

#include "syscall_test_util.h"

extern char* program_invocation_short_name;  // glibc; set from argv[0]

namespace moat_test {
namespace {

void* const kBadAddr = reinterpret_cast<void*>(0x10);
constexpr size_t kKernelSigsetSize = 8;  // rt_sig* take the kernel's size

// --- getrandom ---

TEST(Getrandom, FillsTheBufferWithVaryingBytes) {
  uint8_t a[256] = {}, b[256] = {};
  ASSERT_EQ(syscall(SYS_getrandom, a, sizeof(a), 0), 256);
  ASSERT_EQ(syscall(SYS_getrandom, b, sizeof(b), 0), 256);
  EXPECT_NE(memcmp(a, b, sizeof(a)), 0);
  std::set<uint8_t> distinct(a, a + sizeof(a));
  EXPECT_GT(distinct.size(), 64u);  // 256 random bytes: ~160 distinct values
}

TEST(Getrandom, FlagsAreAccepted) {
  uint8_t buf[32];
  EXPECT_EQ(syscall(SYS_getrandom, buf, sizeof(buf), GRND_NONBLOCK), 32);
  EXPECT_GT(syscall(SYS_getrandom, buf, sizeof(buf), GRND_RANDOM), 0);
  EXPECT_GT(syscall(SYS_getrandom, buf, sizeof(buf),
                    GRND_RANDOM | GRND_NONBLOCK),
            0);
}

TEST(Getrandom, ZeroLengthReturnsZero) {
  uint8_t buf[1];
  EXPECT_EQ(syscall(SYS_getrandom, buf, 0, 0), 0);
}

TEST(Getrandom, BadArgumentsFail) {
  uint8_t buf[8];
  EXPECT_EQ(ErrnoOf(syscall(SYS_getrandom, buf, sizeof(buf), 0x4000)), EINVAL);
  EXPECT_EQ(ErrnoOf(syscall(SYS_getrandom, kBadAddr, 8, 0)), EFAULT);
}

// --- resource limits ---

TEST(Rlimit, Prlimit64AndGetrlimitAgree) {
  for (int r : {RLIMIT_NOFILE, RLIMIT_STACK, RLIMIT_AS, RLIMIT_CORE,
                RLIMIT_DATA, RLIMIT_NPROC}) {
    struct rlimit via_prlimit = {}, via_getrlimit = {};
    ASSERT_EQ(syscall(SYS_prlimit64, 0, r, nullptr, &via_prlimit), 0) << r;
    ASSERT_EQ(syscall(SYS_getrlimit, r, &via_getrlimit), 0) << r;
    EXPECT_EQ(via_prlimit.rlim_cur, via_getrlimit.rlim_cur) << r;
    EXPECT_EQ(via_prlimit.rlim_max, via_getrlimit.rlim_max) << r;
    EXPECT_LE(via_prlimit.rlim_cur, via_prlimit.rlim_max) << r;
  }
}

TEST(Rlimit, OwnPidMeansSelf) {
  struct rlimit by_zero = {}, by_pid = {};
  ASSERT_EQ(syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, nullptr, &by_zero), 0);
  ASSERT_EQ(syscall(SYS_prlimit64, syscall(SYS_getpid), RLIMIT_NOFILE, nullptr,
                    &by_pid),
            0);
  EXPECT_EQ(by_zero.rlim_cur, by_pid.rlim_cur);
  EXPECT_EQ(by_zero.rlim_max, by_pid.rlim_max);
}

TEST(Rlimit, LoweringTheSoftLimitIsVisibleAndReversible) {
  struct rlimit old = {};
  ASSERT_EQ(syscall(SYS_prlimit64, 0, RLIMIT_CORE, nullptr, &old), 0);
  struct rlimit lower = {0, old.rlim_max};
  struct rlimit before = {};
  ASSERT_EQ(syscall(SYS_prlimit64, 0, RLIMIT_CORE, &lower, &before), 0);
  EXPECT_EQ(before.rlim_cur, old.rlim_cur);  // old value comes back
  struct rlimit now = {};
  ASSERT_EQ(syscall(SYS_getrlimit, RLIMIT_CORE, &now), 0);
  EXPECT_EQ(now.rlim_cur, 0u);
  EXPECT_EQ(now.rlim_max, old.rlim_max);
  EXPECT_EQ(syscall(SYS_prlimit64, 0, RLIMIT_CORE, &old, nullptr), 0);
}

TEST(Rlimit, BadArgumentsFail) {
  struct rlimit r = {};
  EXPECT_EQ(ErrnoOf(syscall(SYS_prlimit64, 0, 999, nullptr, &r)), EINVAL);
  EXPECT_EQ(ErrnoOf(syscall(SYS_getrlimit, 999, &r)), EINVAL);
  ASSERT_EQ(syscall(SYS_prlimit64, 0, RLIMIT_CORE, nullptr, &r), 0);
  if (r.rlim_max != RLIM_INFINITY) {
    struct rlimit soft_above_hard = {r.rlim_max + 1, r.rlim_max};
    EXPECT_EQ(ErrnoOf(syscall(SYS_prlimit64, 0, RLIMIT_CORE, &soft_above_hard,
                              nullptr)),
              EINVAL);
  }
  struct rlimit inverted = {1000, 10};
  EXPECT_EQ(
      ErrnoOf(syscall(SYS_prlimit64, 0, RLIMIT_CORE, &inverted, nullptr)),
      EINVAL);
  EXPECT_EQ(ErrnoOf(syscall(SYS_prlimit64, 0x3fffffff, RLIMIT_CORE, nullptr,
                            &r)),
            ESRCH);
  EXPECT_EQ(ErrnoOf(syscall(SYS_getrlimit, RLIMIT_CORE, kBadAddr)), EFAULT);
}

// --- scheduling ---

TEST(SchedGetaffinity, ReturnsANonEmptyMask) {
  cpu_set_t set;
  CPU_ZERO(&set);
  // The raw syscall returns the number of mask bytes it wrote.
  long n = syscall(SYS_sched_getaffinity, 0, sizeof(set), &set);
  ASSERT_GT(n, 0) << "errno " << errno;
  EXPECT_EQ(n % sizeof(long), 0u);
  EXPECT_LE(n, static_cast<long>(sizeof(set)));
  EXPECT_GE(CPU_COUNT(&set), 1);

  cpu_set_t by_pid;
  CPU_ZERO(&by_pid);
  ASSERT_EQ(syscall(SYS_sched_getaffinity, syscall(SYS_getpid), sizeof(by_pid),
                    &by_pid),
            n);
  EXPECT_TRUE(CPU_EQUAL(&set, &by_pid));
}

TEST(SchedGetaffinity, BadArgumentsFail) {
  cpu_set_t set;
  EXPECT_EQ(ErrnoOf(syscall(SYS_sched_getaffinity, 0, 7, &set)), EINVAL);
  EXPECT_EQ(ErrnoOf(syscall(SYS_sched_getaffinity, 0, sizeof(set), kBadAddr)),
            EFAULT);
  EXPECT_EQ(ErrnoOf(syscall(SYS_sched_getaffinity, 0x3fffffff, sizeof(set),
                            &set)),
            ESRCH);
}

TEST(SchedYield, Succeeds) { EXPECT_EQ(syscall(SYS_sched_yield), 0); }

TEST(Getcpu, ReportsACpuInTheAffinityMask) {
  unsigned cpu = ~0u, node = ~0u;
  ASSERT_EQ(syscall(SYS_getcpu, &cpu, &node, nullptr), 0) << "errno " << errno;
  EXPECT_LT(cpu, static_cast<unsigned>(CPU_SETSIZE));
  EXPECT_NE(node, ~0u);
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_GT(syscall(SYS_sched_getaffinity, 0, sizeof(set), &set), 0);
  EXPECT_TRUE(CPU_ISSET(cpu, &set)) << "cpu " << cpu;
}

TEST(Getcpu, NullPointersAreAllowed) {
  EXPECT_EQ(syscall(SYS_getcpu, nullptr, nullptr, nullptr), 0);
}

// --- sysinfo ---

TEST(Sysinfo, ValuesAreSane) {
  struct sysinfo si;
  memset(&si, 0, sizeof(si));
  struct timespec boot_before, boot_after;
  ASSERT_EQ(syscall(SYS_clock_gettime, CLOCK_BOOTTIME, &boot_before), 0);
  ASSERT_EQ(syscall(SYS_sysinfo, &si), 0);
  ASSERT_EQ(syscall(SYS_clock_gettime, CLOCK_BOOTTIME, &boot_after), 0);
  // sysinfo's uptime is CLOCK_BOOTTIME in whole seconds (rounded up), so
  // programs can compare the two.
  EXPECT_GE(si.uptime, boot_before.tv_sec);
  EXPECT_LE(si.uptime, boot_after.tv_sec + 1);
  EXPECT_GE(si.mem_unit, 1u);
  EXPECT_GT(si.totalram, 0u);
  EXPECT_LE(si.freeram, si.totalram);
  EXPECT_GE(si.procs, 1);
  EXPECT_EQ(ErrnoOf(syscall(SYS_sysinfo, kBadAddr)), EFAULT);
}

// --- prctl names ---

std::string GetName() {
  char name[32];
  memset(name, 'x', sizeof(name));
  EXPECT_EQ(syscall(SYS_prctl, PR_GET_NAME, name, 0, 0, 0), 0);
  EXPECT_NE(memchr(name, '\0', 16), nullptr) << "name not NUL-terminated";
  return std::string(name, strnlen(name, 16));
}

TEST(PrctlName, StartsAsTheProgramName) {
  EXPECT_EQ(GetName(), std::string(program_invocation_short_name).substr(0, 15));
}

TEST(PrctlName, SetThenGetRoundTrips) {
  const std::string old = GetName();
  ASSERT_EQ(syscall(SYS_prctl, PR_SET_NAME, "moat-test", 0, 0, 0), 0);
  EXPECT_EQ(GetName(), "moat-test");
  ASSERT_EQ(syscall(SYS_prctl, PR_SET_NAME, old.c_str(), 0, 0, 0), 0);
}

TEST(PrctlName, LongNamesAreTruncatedTo15Bytes) {
  const std::string old = GetName();
  ASSERT_EQ(syscall(SYS_prctl, PR_SET_NAME, "abcdefghijklmnopqrstuvwxyz", 0, 0,
                    0),
            0);
  EXPECT_EQ(GetName(), "abcdefghijklmno");
  ASSERT_EQ(syscall(SYS_prctl, PR_SET_NAME, old.c_str(), 0, 0, 0), 0);
}

TEST(PrctlName, BadPointerIsEfault) {
  EXPECT_EQ(ErrnoOf(syscall(SYS_prctl, PR_SET_NAME, kBadAddr, 0, 0, 0)),
            EFAULT);
  EXPECT_EQ(ErrnoOf(syscall(SYS_prctl, PR_GET_NAME, kBadAddr, 0, 0, 0)),
            EFAULT);
}

// --- arch_prctl ---

uintptr_t TlsSelfPointer() {
  // glibc's x86-64 TCB starts with a pointer to itself, and %fs points at it.
  uintptr_t self;
  asm volatile("mov %%fs:0, %0" : "=r"(self));
  return self;
}

TEST(ArchPrctl, GetFsMatchesTheTlsPointer) {
  unsigned long fs = 0;
  ASSERT_EQ(syscall(SYS_arch_prctl, ARCH_GET_FS, &fs), 0);
  EXPECT_EQ(fs, TlsSelfPointer());
}

TEST(ArchPrctl, SetFsToTheSameValueKeepsTlsWorking) {
  unsigned long fs = 0;
  ASSERT_EQ(syscall(SYS_arch_prctl, ARCH_GET_FS, &fs), 0);
  ASSERT_EQ(syscall(SYS_arch_prctl, ARCH_SET_FS, fs), 0);
  static thread_local int tls_value = 41;
  ++tls_value;
  EXPECT_EQ(tls_value, 42);
  EXPECT_EQ(TlsSelfPointer(), fs);
}

TEST(ArchPrctl, GetGsWorks) {
  unsigned long gs = 1;
  EXPECT_EQ(syscall(SYS_arch_prctl, ARCH_GET_GS, &gs), 0);
}

TEST(ArchPrctl, BadArgumentsFail) {
  unsigned long v;
  EXPECT_EQ(ErrnoOf(syscall(SYS_arch_prctl, 0x9999, &v)), EINVAL);
  EXPECT_EQ(ErrnoOf(syscall(SYS_arch_prctl, ARCH_GET_FS, kBadAddr)), EFAULT);
}

// --- signal dispositions, masks, alternate stacks ---

void Handler(int) {}

TEST(Sigaction, HandlerMaskAndFlagsRoundTrip) {
  struct sigaction sa = {}, old = {}, got = {};
  sa.sa_handler = Handler;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGUSR2);
  sa.sa_flags = SA_RESTART;
  ASSERT_EQ(sigaction(SIGUSR1, &sa, &old), 0);  // glibc adds SA_RESTORER
  ASSERT_EQ(sigaction(SIGUSR1, nullptr, &got), 0);
  EXPECT_EQ(got.sa_handler, &Handler);
  EXPECT_TRUE(sigismember(&got.sa_mask, SIGUSR2));
  EXPECT_FALSE(sigismember(&got.sa_mask, SIGTERM));
  EXPECT_TRUE(got.sa_flags & SA_RESTART);
  ASSERT_EQ(sigaction(SIGUSR1, &old, nullptr), 0);
  ASSERT_EQ(sigaction(SIGUSR1, nullptr, &got), 0);
  EXPECT_EQ(got.sa_handler, old.sa_handler);
}

TEST(Sigaction, IgnoreRoundTrips) {
  struct sigaction sa = {}, old = {}, got = {};
  sa.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGUSR2, &sa, &old), 0);
  ASSERT_EQ(sigaction(SIGUSR2, nullptr, &got), 0);
  EXPECT_EQ(got.sa_handler, SIG_IGN);
  ASSERT_EQ(sigaction(SIGUSR2, &old, nullptr), 0);
}

TEST(Sigaction, KillAndStopCannotBeChanged) {
  struct sigaction sa = {};
  sa.sa_handler = SIG_IGN;
  EXPECT_EQ(ErrnoOf(sigaction(SIGKILL, &sa, nullptr)), EINVAL);
  EXPECT_EQ(ErrnoOf(sigaction(SIGSTOP, &sa, nullptr)), EINVAL);
  // Reading their disposition is allowed.
  struct sigaction got = {};
  EXPECT_EQ(sigaction(SIGKILL, nullptr, &got), 0);
  EXPECT_EQ(got.sa_handler, SIG_DFL);
}

TEST(Sigaction, BadSignalOrSetSizeIsEinval) {
  struct sigaction got = {};
  EXPECT_EQ(ErrnoOf(syscall(SYS_rt_sigaction, 0, nullptr, &got,
                            kKernelSigsetSize)),
            EINVAL);
  EXPECT_EQ(ErrnoOf(syscall(SYS_rt_sigaction, 65, nullptr, &got,
                            kKernelSigsetSize)),
            EINVAL);
  EXPECT_EQ(ErrnoOf(syscall(SYS_rt_sigaction, SIGUSR1, nullptr, &got, 16)),
            EINVAL);
}

// The raw kernel mask: one 64-bit word, bit (sig - 1).
uint64_t Bit(int sig) { return uint64_t{1} << (sig - 1); }

uint64_t CurrentMask() {
  uint64_t mask = 0;
  EXPECT_EQ(syscall(SYS_rt_sigprocmask, SIG_BLOCK, nullptr, &mask,
                    kKernelSigsetSize),
            0);
  return mask;
}

TEST(Sigprocmask, BlockUnblockAndSetmaskRoundTrip) {
  const uint64_t original = CurrentMask();
  uint64_t set = Bit(SIGUSR1) | Bit(SIGHUP);
  uint64_t old = ~uint64_t{0};
  ASSERT_EQ(syscall(SYS_rt_sigprocmask, SIG_BLOCK, &set, &old,
                    kKernelSigsetSize),
            0);
  EXPECT_EQ(old, original);
  EXPECT_EQ(CurrentMask(), original | set);

  uint64_t hup = Bit(SIGHUP);
  ASSERT_EQ(syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &hup, nullptr,
                    kKernelSigsetSize),
            0);
  EXPECT_EQ(CurrentMask(), (original | set) & ~hup);

  ASSERT_EQ(syscall(SYS_rt_sigprocmask, SIG_SETMASK, &original, nullptr,
                    kKernelSigsetSize),
            0);
  EXPECT_EQ(CurrentMask(), original);
}

TEST(Sigprocmask, KillAndStopAreNeverBlocked) {
  const uint64_t original = CurrentMask();
  uint64_t set = Bit(SIGKILL) | Bit(SIGSTOP) | Bit(SIGUSR1);
  ASSERT_EQ(syscall(SYS_rt_sigprocmask, SIG_BLOCK, &set, nullptr,
                    kKernelSigsetSize),
            0);
  const uint64_t now = CurrentMask();
  EXPECT_FALSE(now & Bit(SIGKILL));
  EXPECT_FALSE(now & Bit(SIGSTOP));
  EXPECT_TRUE(now & Bit(SIGUSR1));
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &original, nullptr,
          kKernelSigsetSize);
}

TEST(Sigprocmask, BadArgumentsAreEinval) {
  uint64_t set = Bit(SIGUSR1);
  EXPECT_EQ(
      ErrnoOf(syscall(SYS_rt_sigprocmask, 99, &set, nullptr, kKernelSigsetSize)),
      EINVAL);
  EXPECT_EQ(ErrnoOf(syscall(SYS_rt_sigprocmask, SIG_BLOCK, &set, nullptr, 16)),
            EINVAL);
}

TEST(Sigaltstack, SetGetAndDisable) {
  static char stack_mem[64 * 1024];
  stack_t ss = {}, old = {}, got = {};
  ss.ss_sp = stack_mem;
  ss.ss_size = sizeof(stack_mem);
  ss.ss_flags = 0;
  ASSERT_EQ(syscall(SYS_sigaltstack, &ss, &old), 0) << "errno " << errno;
  ASSERT_EQ(syscall(SYS_sigaltstack, nullptr, &got), 0);
  EXPECT_EQ(got.ss_sp, stack_mem);
  EXPECT_EQ(got.ss_size, sizeof(stack_mem));
  EXPECT_EQ(got.ss_flags, 0);

  stack_t off = {};
  off.ss_flags = SS_DISABLE;
  ASSERT_EQ(syscall(SYS_sigaltstack, &off, nullptr), 0);
  ASSERT_EQ(syscall(SYS_sigaltstack, nullptr, &got), 0);
  EXPECT_EQ(got.ss_flags, SS_DISABLE);
}

TEST(Sigaltstack, BadArgumentsFail) {
  static char stack_mem[1024];
  stack_t small = {};
  small.ss_sp = stack_mem;
  small.ss_size = sizeof(stack_mem);  // below the kernel's MINSIGSTKSZ (2048)
  EXPECT_EQ(ErrnoOf(syscall(SYS_sigaltstack, &small, nullptr)), ENOMEM);
  stack_t bad_flags = small;
  bad_flags.ss_size = 64 * 1024;
  bad_flags.ss_flags = 0x1234;
  EXPECT_EQ(ErrnoOf(syscall(SYS_sigaltstack, &bad_flags, nullptr)), EINVAL);
}

// --- stdio: ioctl and fstat ---

TEST(Ioctl, TerminalRequestsOnANonTerminalAreEnotty) {
  if (FdType(1) != S_IFIFO && FdType(1) != S_IFREG)
    GTEST_SKIP() << "stdout may be a terminal";
  struct termios t;
  struct winsize ws;
  EXPECT_EQ(ErrnoOf(syscall(SYS_ioctl, 1, TCGETS, &t)), ENOTTY);
  EXPECT_EQ(ErrnoOf(syscall(SYS_ioctl, 1, TIOCGWINSZ, &ws)), ENOTTY);
}

TEST(Ioctl, BadFdIsEbadf) {
  struct termios t;
  EXPECT_EQ(ErrnoOf(syscall(SYS_ioctl, 1000, TCGETS, &t)), EBADF);
}

TEST(Fstat, StdioFdsHaveATypeAndNewfstatatAgrees) {
  for (int fd = 0; fd <= 2; ++fd) {
    struct stat a = {}, b = {};
    ASSERT_EQ(syscall(SYS_fstat, fd, &a), 0) << "fd " << fd;
    EXPECT_NE(a.st_mode & S_IFMT, 0u) << "fd " << fd;
    ASSERT_EQ(syscall(SYS_newfstatat, fd, "", &b, AT_EMPTY_PATH), 0)
        << "fd " << fd;
    EXPECT_EQ(a.st_mode, b.st_mode) << "fd " << fd;
    EXPECT_EQ(a.st_ino, b.st_ino) << "fd " << fd;
    EXPECT_EQ(a.st_dev, b.st_dev) << "fd " << fd;
  }
}

TEST(Fstat, PipeStdoutIsAFifo) {
  if (FdType(1) != S_IFIFO) GTEST_SKIP() << "stdout is not a pipe";
  struct stat st = {};
  ASSERT_EQ(syscall(SYS_fstat, 1, &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
}

TEST(Fstat, BadArgumentsFail) {
  struct stat st;
  EXPECT_EQ(ErrnoOf(syscall(SYS_fstat, 1000, &st)), EBADF);
  EXPECT_EQ(ErrnoOf(syscall(SYS_fstat, 1, kBadAddr)), EFAULT);
}

}  // namespace
}  // namespace moat_test
