// Signal delivery to handlers, checked with synchronous signals only (no
// kill(2), threads or timers yet): faults (SIGSEGV, SIGFPE, SIGILL,
// SIGTRAP) caught by handlers that return, rewrite the frame or siglongjmp
// out; the rt_sigframe layout at handler entry (man 2 sigreturn, the
// kernel's <asm/ucontext.h>); register, flag and FPU state across a
// handler; mask and sigaltstack behaviour (man 7 signal, man 2
// sigaltstack); rt_sigtimedwait and rt_sigpending without pending signals.
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstdlib>

#include "gtest/gtest.h"
#include "syscall_test_util.h"

using moat_test::ErrnoOf;

namespace {

constexpr long kPage = 4096;
// From <linux/signal.h>, which clashes with glibc's <signal.h>.
constexpr int kSsAutodisarm = 1 << 31;

// Handler state: plain globals written by handlers (sig_atomic-sized).
volatile int g_signo;
volatile int g_code;
void* volatile g_addr;
volatile uint64_t g_trapno;
volatile uint64_t g_rip;
volatile uint64_t g_mask_in_handler;
sigjmp_buf g_jmp;

uint64_t CurrentMask() {
  uint64_t mask = 0;
  EXPECT_EQ(syscall(SYS_rt_sigprocmask, SIG_BLOCK, nullptr, &mask, 8), 0);
  return mask;
}

uint64_t Bit(int sig) { return uint64_t{1} << (sig - 1); }

void Install(int sig, void (*fn)(int, siginfo_t*, void*), int flags,
             uint64_t extra_mask = 0) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = fn;
  sa.sa_flags = SA_SIGINFO | flags;
  sigemptyset(&sa.sa_mask);
  for (int s = 1; s < 64; ++s) {
    if (extra_mask & Bit(s)) sigaddset(&sa.sa_mask, s);
  }
  ASSERT_EQ(sigaction(sig, &sa, nullptr), 0);
}

void Restore(int sig) {
  signal(sig, SIG_DFL);
}

class SignalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    g_signo = 0;
    g_code = 0;
    g_addr = nullptr;
    g_mask_in_handler = 0;
    saved_mask_ = CurrentMask();
  }
  void TearDown() override {
    for (int s : {SIGSEGV, SIGILL, SIGFPE, SIGTRAP, SIGBUS}) Restore(s);
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &saved_mask_, nullptr, 8);
  }
  uint64_t saved_mask_ = 0;
};

// Records the signal and leaves through siglongjmp.
void JumpOut(int sig, siginfo_t* info, void* uc) {
  g_signo = sig;
  g_code = info->si_code;
  g_addr = info->si_addr;
  g_trapno = static_cast<ucontext_t*>(uc)->uc_mcontext.gregs[REG_TRAPNO];
  g_mask_in_handler = CurrentMask();
  siglongjmp(g_jmp, 1);
}

TEST_F(SignalTest, SegvOnUnmappedPageReportsAddressAndMaperr) {
  Install(SIGSEGV, JumpOut, 0);
  char* p = static_cast<char*>(mmap(nullptr, kPage, PROT_READ | PROT_WRITE,
                                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  ASSERT_EQ(munmap(p, kPage), 0);
  if (sigsetjmp(g_jmp, 1) == 0) {
    (void)*reinterpret_cast<volatile char*>(p + 12);
    FAIL() << "no fault";
  }
  EXPECT_EQ(g_signo, SIGSEGV);
  EXPECT_EQ(g_code, SEGV_MAPERR);
  EXPECT_EQ(g_addr, p + 12);
  EXPECT_EQ(g_trapno, 14u);  // #PF
  // The handler ran with SIGSEGV blocked; siglongjmp restored the mask.
  EXPECT_TRUE(g_mask_in_handler & Bit(SIGSEGV));
  EXPECT_EQ(CurrentMask(), saved_mask_);
}

char* volatile g_fix_page;

// Makes the page accessible and returns: the access is retried.
void FixByMprotect(int sig, siginfo_t* info, void*) {
  g_signo = sig;
  g_code = info->si_code;
  g_addr = info->si_addr;
  mprotect(g_fix_page, kPage, PROT_READ | PROT_WRITE);
}

TEST_F(SignalTest, SegvHandlerFixesProtectionAndAccessIsRetried) {
  Install(SIGSEGV, FixByMprotect, 0);
  char* p = static_cast<char*>(mmap(nullptr, kPage, PROT_NONE,
                                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  g_fix_page = p;
  reinterpret_cast<volatile char*>(p)[100] = 42;
  EXPECT_EQ(g_signo, SIGSEGV);
  EXPECT_EQ(g_code, SEGV_ACCERR);
  EXPECT_EQ(g_addr, p + 100);
  EXPECT_EQ(p[100], 42);
  munmap(p, kPage);
}

TEST_F(SignalTest, IntegerDivisionByZeroIsSigfpe) {
  Install(SIGFPE, JumpOut, 0);
  if (sigsetjmp(g_jmp, 1) == 0) {
    // In assembly: the compiler may not emit a division it can prove is
    // undefined.
    asm volatile("xor %%ecx, %%ecx\n mov $10, %%eax\n cltd\n idiv %%ecx\n"
                 :
                 :
                 : "rax", "rcx", "rdx", "cc");
    FAIL() << "no fault";
  }
  EXPECT_EQ(g_signo, SIGFPE);
  EXPECT_EQ(g_code, FPE_INTDIV);
  EXPECT_EQ(g_trapno, 0u);  // #DE
}

// Skips the 2-byte ud2 by editing the frame's rip.
void SkipUd2(int sig, siginfo_t* info, void* ucv) {
  auto* uc = static_cast<ucontext_t*>(ucv);
  g_signo = sig;
  g_code = info->si_code;
  g_addr = info->si_addr;
  g_rip = uc->uc_mcontext.gregs[REG_RIP];
  g_mask_in_handler = CurrentMask();
  uc->uc_mcontext.gregs[REG_RIP] += 2;
}

TEST_F(SignalTest, Ud2IsSigillAndHandlerCanMoveRip) {
  Install(SIGILL, SkipUd2, 0);
  uint64_t ud2_addr = 0;
  asm volatile(
      "lea 1f(%%rip), %0\n"
      "1: ud2\n"
      : "=r"(ud2_addr));
  EXPECT_EQ(g_signo, SIGILL);
  EXPECT_EQ(g_code, ILL_ILLOPN);
  EXPECT_EQ(reinterpret_cast<uint64_t>(g_addr), ud2_addr);
  EXPECT_EQ(g_rip, ud2_addr);
}

void RecordTrap(int sig, siginfo_t* info, void* ucv) {
  auto* uc = static_cast<ucontext_t*>(ucv);
  g_signo = sig;
  g_code = info->si_code;
  g_rip = uc->uc_mcontext.gregs[REG_RIP];
  g_trapno = uc->uc_mcontext.gregs[REG_TRAPNO];
}

TEST_F(SignalTest, Int3IsSigtrapAfterTheInstruction) {
  Install(SIGTRAP, RecordTrap, 0);
  uint64_t after = 0;
  asm volatile(
      "lea 1f(%%rip), %0\n"
      "int3\n"
      "1:\n"
      : "=r"(after));
  EXPECT_EQ(g_signo, SIGTRAP);
  EXPECT_EQ(g_code, SI_KERNEL);
  EXPECT_EQ(g_rip, after);  // A trap: execution continues after int3.
  EXPECT_EQ(g_trapno, 3u);  // #BP
}

TEST_F(SignalTest, MaskDuringHandlerAndRestoredAfter) {
  uint64_t before = Bit(SIGUSR1);
  ASSERT_EQ(syscall(SYS_rt_sigprocmask, SIG_SETMASK, &before, nullptr, 8), 0);
  Install(SIGILL, SkipUd2, 0, Bit(SIGUSR2));
  asm volatile("ud2");
  EXPECT_EQ(g_signo, SIGILL);
  EXPECT_EQ(g_mask_in_handler, Bit(SIGUSR1) | Bit(SIGUSR2) | Bit(SIGILL));
  EXPECT_EQ(CurrentMask(), before);
}

TEST_F(SignalTest, NodeferLeavesSignalUnblockedInHandler) {
  Install(SIGILL, SkipUd2, SA_NODEFER);
  asm volatile("ud2");
  EXPECT_EQ(g_signo, SIGILL);
  EXPECT_FALSE(g_mask_in_handler & Bit(SIGILL));
}

TEST_F(SignalTest, ResethandRestoresDefaultAfterOneDelivery) {
  Install(SIGILL, SkipUd2, SA_RESETHAND);
  asm volatile("ud2");
  EXPECT_EQ(g_signo, SIGILL);
  struct sigaction now;
  ASSERT_EQ(sigaction(SIGILL, nullptr, &now), 0);
  EXPECT_EQ(now.sa_handler, SIG_DFL);
  // SA_RESETHAND implies SA_NODEFER (man 2 sigaction).
}

// Handler on the alternate stack: records where its locals live and what
// sigaltstack(2) reports from inside.
char* volatile g_local;
volatile int g_ss_flags;
void OnAltStack(int sig, siginfo_t*, void* ucv) {
  char local = 0;
  g_local = &local;
  stack_t now;
  sigaltstack(nullptr, &now);
  g_ss_flags = now.ss_flags;
  g_signo = sig;
  static_cast<ucontext_t*>(ucv)->uc_mcontext.gregs[REG_RIP] += 2;
}

TEST_F(SignalTest, HandlerRunsOnSigaltstack) {
  static char stack[64 * 1024];
  stack_t ss{};
  ss.ss_sp = stack;
  ss.ss_size = sizeof(stack);
  ASSERT_EQ(sigaltstack(&ss, nullptr), 0);
  Install(SIGILL, OnAltStack, SA_ONSTACK);
  asm volatile("ud2");
  EXPECT_EQ(g_signo, SIGILL);
  EXPECT_GE(g_local, stack);
  EXPECT_LT(g_local, stack + sizeof(stack));
  EXPECT_EQ(g_ss_flags, SS_ONSTACK);
  stack_t after;
  ASSERT_EQ(sigaltstack(nullptr, &after), 0);
  EXPECT_EQ(after.ss_flags, 0);  // Not on it any more.
  ss.ss_flags = SS_DISABLE;
  ASSERT_EQ(sigaltstack(&ss, nullptr), 0);
}

TEST_F(SignalTest, AutodisarmDisablesStackInsideHandlerAndRearmsAfter) {
  static char stack[64 * 1024];
  stack_t ss{};
  ss.ss_sp = stack;
  ss.ss_size = sizeof(stack);
  ss.ss_flags = kSsAutodisarm;
  ASSERT_EQ(sigaltstack(&ss, nullptr), 0);
  Install(SIGILL, OnAltStack, SA_ONSTACK);
  asm volatile("ud2");
  EXPECT_GE(g_local, stack);
  EXPECT_LT(g_local, stack + sizeof(stack));
  EXPECT_EQ(g_ss_flags, SS_DISABLE);
  stack_t after;
  ASSERT_EQ(sigaltstack(nullptr, &after), 0);
  EXPECT_EQ(after.ss_sp, stack);
  EXPECT_EQ(after.ss_flags, kSsAutodisarm);
  ss.ss_flags = SS_DISABLE;
  ASSERT_EQ(sigaltstack(&ss, nullptr), 0);
}

volatile int g_change_errno;
void ChangeAltStackInHandler(int sig, siginfo_t*, void* ucv) {
  static char other[16 * 1024];
  stack_t ss{};
  ss.ss_sp = other;
  ss.ss_size = sizeof(other);
  g_change_errno =
      syscall(SYS_sigaltstack, &ss, nullptr) == 0 ? 0 : errno;
  g_signo = sig;
  static_cast<ucontext_t*>(ucv)->uc_mcontext.gregs[REG_RIP] += 2;
}

TEST_F(SignalTest, SigaltstackCannotChangeWhileOnIt) {
  static char stack[64 * 1024];
  stack_t ss{};
  ss.ss_sp = stack;
  ss.ss_size = sizeof(stack);
  ASSERT_EQ(sigaltstack(&ss, nullptr), 0);
  Install(SIGILL, ChangeAltStackInHandler, SA_ONSTACK);
  asm volatile("ud2");
  EXPECT_EQ(g_change_errno, EPERM);
  ss.ss_flags = SS_DISABLE;
  ASSERT_EQ(sigaltstack(&ss, nullptr), 0);
}

// Clobbers every vector register and MXCSR, then skips ud2.
void ClobberFpu(int sig, siginfo_t*, void* ucv) {
  g_signo = sig;
  uint32_t mxcsr = 0x1f80 | (1u << 13);  // Round down.
  asm volatile(
      "pcmpeqd %%xmm0, %%xmm0\n"
      "pcmpeqd %%xmm1, %%xmm1\n"
      "pcmpeqd %%xmm2, %%xmm2\n"
      "pcmpeqd %%xmm3, %%xmm3\n"
      "pcmpeqd %%xmm4, %%xmm4\n"
      "pcmpeqd %%xmm5, %%xmm5\n"
      "pcmpeqd %%xmm6, %%xmm6\n"
      "pcmpeqd %%xmm7, %%xmm7\n"
      "pcmpeqd %%xmm8, %%xmm8\n"
      "pcmpeqd %%xmm9, %%xmm9\n"
      "pcmpeqd %%xmm10, %%xmm10\n"
      "pcmpeqd %%xmm11, %%xmm11\n"
      "pcmpeqd %%xmm12, %%xmm12\n"
      "pcmpeqd %%xmm13, %%xmm13\n"
      "pcmpeqd %%xmm14, %%xmm14\n"
      "pcmpeqd %%xmm15, %%xmm15\n"
      "ldmxcsr %0\n"
      :
      : "m"(mxcsr)
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
        "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
        "xmm15");
  static_cast<ucontext_t*>(ucv)->uc_mcontext.gregs[REG_RIP] += 2;
}

TEST_F(SignalTest, SseRegistersAndMxcsrSurviveHandler) {
  Install(SIGILL, ClobberFpu, 0);
  alignas(16) uint8_t in[16 * 16], out[16 * 16];
  for (size_t i = 0; i < sizeof(in); ++i) in[i] = static_cast<uint8_t>(i * 7 + 3);
  memset(out, 0, sizeof(out));
  uint32_t mxcsr_in = 0x1f80 | (3u << 13);  // Round toward zero.
  uint32_t mxcsr_out = 0, mxcsr_saved = 0;
  asm volatile(
      "stmxcsr %[saved]\n"
      "ldmxcsr %[min]\n"
      "movdqu 0(%[in]), %%xmm0\n"
      "movdqu 16(%[in]), %%xmm1\n"
      "movdqu 32(%[in]), %%xmm2\n"
      "movdqu 48(%[in]), %%xmm3\n"
      "movdqu 64(%[in]), %%xmm4\n"
      "movdqu 80(%[in]), %%xmm5\n"
      "movdqu 96(%[in]), %%xmm6\n"
      "movdqu 112(%[in]), %%xmm7\n"
      "movdqu 128(%[in]), %%xmm8\n"
      "movdqu 144(%[in]), %%xmm9\n"
      "movdqu 160(%[in]), %%xmm10\n"
      "movdqu 176(%[in]), %%xmm11\n"
      "movdqu 192(%[in]), %%xmm12\n"
      "movdqu 208(%[in]), %%xmm13\n"
      "movdqu 224(%[in]), %%xmm14\n"
      "movdqu 240(%[in]), %%xmm15\n"
      "ud2\n"
      "movdqu %%xmm0, 0(%[out])\n"
      "movdqu %%xmm1, 16(%[out])\n"
      "movdqu %%xmm2, 32(%[out])\n"
      "movdqu %%xmm3, 48(%[out])\n"
      "movdqu %%xmm4, 64(%[out])\n"
      "movdqu %%xmm5, 80(%[out])\n"
      "movdqu %%xmm6, 96(%[out])\n"
      "movdqu %%xmm7, 112(%[out])\n"
      "movdqu %%xmm8, 128(%[out])\n"
      "movdqu %%xmm9, 144(%[out])\n"
      "movdqu %%xmm10, 160(%[out])\n"
      "movdqu %%xmm11, 176(%[out])\n"
      "movdqu %%xmm12, 192(%[out])\n"
      "movdqu %%xmm13, 208(%[out])\n"
      "movdqu %%xmm14, 224(%[out])\n"
      "movdqu %%xmm15, 240(%[out])\n"
      "stmxcsr %[mout]\n"
      "ldmxcsr %[saved]\n"
      : [mout] "=m"(mxcsr_out), [saved] "+m"(mxcsr_saved)
      : [in] "r"(in), [out] "r"(out), [min] "m"(mxcsr_in)
      : "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
        "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
        "xmm15");
  EXPECT_EQ(g_signo, SIGILL);
  EXPECT_EQ(memcmp(in, out, sizeof(in)), 0);
  EXPECT_EQ(mxcsr_out & 0xffbf, mxcsr_in);  // Bit 6 (DAZ) may read back.
}

void ClobberYmm(int sig, siginfo_t*, void* ucv) {
  g_signo = sig;
  asm volatile(
      "vpcmpeqd %%ymm0, %%ymm0, %%ymm0\n"
      "vpcmpeqd %%ymm7, %%ymm7, %%ymm7\n"
      "vpcmpeqd %%ymm15, %%ymm15, %%ymm15\n"
      :
      :
      : "xmm0", "xmm7", "xmm15");
  static_cast<ucontext_t*>(ucv)->uc_mcontext.gregs[REG_RIP] += 2;
}

TEST_F(SignalTest, AvxUpperHalvesSurviveHandler) {
  if (!__builtin_cpu_supports("avx")) GTEST_SKIP() << "no AVX";
  Install(SIGILL, ClobberYmm, 0);
  alignas(32) uint8_t in[3 * 32], out[3 * 32];
  for (size_t i = 0; i < sizeof(in); ++i) in[i] = static_cast<uint8_t>(i * 5 + 1);
  memset(out, 0, sizeof(out));
  asm volatile(
      "vmovdqu 0(%[in]), %%ymm0\n"
      "vmovdqu 32(%[in]), %%ymm7\n"
      "vmovdqu 64(%[in]), %%ymm15\n"
      "ud2\n"
      "vmovdqu %%ymm0, 0(%[out])\n"
      "vmovdqu %%ymm7, 32(%[out])\n"
      "vmovdqu %%ymm15, 64(%[out])\n"
      "vzeroupper\n"
      :
      : [in] "r"(in), [out] "r"(out)
      : "memory", "xmm0", "xmm7", "xmm15");
  EXPECT_EQ(g_signo, SIGILL);
  EXPECT_EQ(memcmp(in, out, sizeof(in)), 0);
}

// Clobbers the general registers the test below checks.
void ClobberGprs(int sig, siginfo_t*, void* ucv) {
  g_signo = sig;
  asm volatile(
      "xor %%eax, %%eax\n"
      "xor %%ecx, %%ecx\n"
      "xor %%edx, %%edx\n"
      "xor %%r11d, %%r11d\n"
      "cld\n"
      :
      :
      : "rax", "rcx", "rdx", "r11", "cc");
  static_cast<ucontext_t*>(ucv)->uc_mcontext.gregs[REG_RIP] += 2;
}

TEST_F(SignalTest, GeneralRegistersAndFlagsSurviveSigreturn) {
  Install(SIGILL, ClobberGprs, 0);
  uint64_t out[5] = {};
  // rax matters most: rt_sigreturn is a syscall and must not overwrite it
  // with a result. rcx and r11 are what `syscall` clobbers. DF must be
  // clear in the handler (the ABI) and set again afterwards.
  asm volatile(
      "movabs $0x1122334455667788, %%rax\n"
      "movabs $0x0123456789abcdef, %%rcx\n"
      "movabs $0xfedcba9876543210, %%rdx\n"
      "movabs $0x5a5a5a5a5a5a5a5a, %%r11\n"
      "std\n"
      "ud2\n"
      "pushfq\n"
      "popq 32(%0)\n"
      "cld\n"
      "mov %%rax, 0(%0)\n"
      "mov %%rcx, 8(%0)\n"
      "mov %%rdx, 16(%0)\n"
      "mov %%r11, 24(%0)\n"
      :
      : "r"(out)
      : "memory", "rax", "rcx", "rdx", "r11", "cc");
  EXPECT_EQ(g_signo, SIGILL);
  EXPECT_EQ(out[0], 0x1122334455667788u);
  EXPECT_EQ(out[1], 0x0123456789abcdefu);
  EXPECT_EQ(out[2], 0xfedcba9876543210u);
  EXPECT_EQ(out[3], 0x5a5a5a5a5a5a5a5au);
  EXPECT_TRUE(out[4] & 0x400) << "DF lost";
}

// A handler in assembly sees the frame exactly as the kernel builds it.
// It records rdi, rsi, rdx, rax, rsp and RFLAGS at entry, skips the ud2
// (uc at rdx; uc_mcontext at +40; rip is its 17th word, +128) and returns
// through pretcode.
extern "C" {
uint64_t g_entry[6];
void AsmFrameHandler();
}
asm(R"(
  .text
  .globl AsmFrameHandler
  .type AsmFrameHandler, @function
AsmFrameHandler:
  movq %rdi, g_entry+0(%rip)
  movq %rsi, g_entry+8(%rip)
  movq %rdx, g_entry+16(%rip)
  movq %rax, g_entry+24(%rip)
  movq %rsp, g_entry+32(%rip)
  pushfq
  popq g_entry+40(%rip)
  addq $2, 168(%rdx)
  ret
  .size AsmFrameHandler, .-AsmFrameHandler
)");

TEST_F(SignalTest, FrameLayoutAtHandlerEntry) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = reinterpret_cast<void (*)(int)>(AsmFrameHandler);
  // No SA_SIGINFO: the frame is the same on x86-64.
  ASSERT_EQ(sigaction(SIGILL, &sa, nullptr), 0);
  asm volatile(
      "mov $0x77, %%eax\n"
      "std\n"
      "ud2\n"
      "cld\n"
      :
      :
      : "rax", "cc", "memory");
  const uint64_t rsp = g_entry[4];
  EXPECT_EQ(g_entry[0], static_cast<uint64_t>(SIGILL));
  EXPECT_EQ((rsp + 8) % 16, 0u) << "rsp " << std::hex << rsp;
  EXPECT_EQ(g_entry[2], rsp + 8) << "rdx is &frame->uc";
  EXPECT_EQ(g_entry[1], rsp + 8 + 304) << "rsi is &frame->info";
  EXPECT_EQ(g_entry[3], 0u) << "rax is 0";
  EXPECT_EQ(g_entry[5] & 0x400, 0u) << "DF must be clear in a handler";
}

// A handler in C that checks the frame's pieces.
volatile uint64_t g_uc_flags;
volatile uint64_t g_fpstate;
volatile uint32_t g_magic1, g_magic2, g_xstate_size;
volatile uint64_t g_oldmask, g_uc_sigmask;
void InspectFrame(int sig, siginfo_t* info, void* ucv) {
  auto* uc = static_cast<ucontext_t*>(ucv);
  g_signo = sig;
  g_uc_flags = uc->uc_flags;
  g_fpstate = reinterpret_cast<uint64_t>(uc->uc_mcontext.fpregs);
  g_oldmask = uc->uc_mcontext.gregs[REG_OLDMASK];
  memcpy(const_cast<uint64_t*>(&g_uc_sigmask), &uc->uc_sigmask, 8);
  if (g_fpstate != 0) {
    const uint8_t* fp = reinterpret_cast<const uint8_t*>(g_fpstate);
    memcpy(const_cast<uint32_t*>(&g_magic1), fp + 464, 4);
    memcpy(const_cast<uint32_t*>(&g_xstate_size), fp + 464 + 16, 4);
    if (g_magic1 == 0x46505853) {
      memcpy(const_cast<uint32_t*>(&g_magic2), fp + g_xstate_size, 4);
    }
  }
  (void)info;
  uc->uc_mcontext.gregs[REG_RIP] += 2;
}

TEST_F(SignalTest, FrameHasSigcontextFlagsAndXsaveArea) {
  uint64_t before = Bit(SIGUSR1);
  ASSERT_EQ(syscall(SYS_rt_sigprocmask, SIG_SETMASK, &before, nullptr, 8), 0);
  Install(SIGILL, InspectFrame, 0);
  asm volatile("ud2");
  EXPECT_EQ(g_signo, SIGILL);
  EXPECT_TRUE(g_uc_flags & 0x2) << "UC_SIGCONTEXT_SS";
  EXPECT_TRUE(g_uc_flags & 0x4) << "UC_STRICT_RESTORE_SS";
  EXPECT_EQ(g_oldmask, Bit(SIGUSR1));
  EXPECT_EQ(g_uc_sigmask, Bit(SIGUSR1));
  ASSERT_NE(g_fpstate, 0u);
  EXPECT_EQ(g_fpstate % 64, 0u);
  if (g_uc_flags & 0x1) {  // UC_FP_XSTATE
    EXPECT_EQ(g_magic1, 0x46505853u);
    EXPECT_GE(g_xstate_size, 576u);
    EXPECT_EQ(g_magic2, 0x46505845u);
  }
}

TEST_F(SignalTest, SigtimedwaitWithZeroTimeoutIsEagain) {
  uint64_t set = Bit(SIGUSR1) | Bit(SIGRTMIN + 1);
  struct timespec zero = {0, 0};
  EXPECT_EQ(ErrnoOf(syscall(SYS_rt_sigtimedwait, &set, nullptr, &zero, 8)),
            EAGAIN);
  struct timespec bad = {0, 1000000000};
  EXPECT_EQ(ErrnoOf(syscall(SYS_rt_sigtimedwait, &set, nullptr, &bad, 8)),
            EINVAL);
  EXPECT_EQ(ErrnoOf(syscall(SYS_rt_sigtimedwait, &set, nullptr, &zero, 4)),
            EINVAL);
}

TEST_F(SignalTest, SigtimedwaitTimesOut) {
  uint64_t set = Bit(SIGUSR2);
  struct timespec ts = {0, 20 * 1000 * 1000};
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  EXPECT_EQ(ErrnoOf(syscall(SYS_rt_sigtimedwait, &set, nullptr, &ts, 8)),
            EAGAIN);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  int64_t ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
  EXPECT_GE(ms, 19);
}

TEST_F(SignalTest, SigpendingEmptyAndSizeChecked) {
  uint64_t set = ~uint64_t{0};
  ASSERT_EQ(syscall(SYS_rt_sigpending, &set, 8), 0);
  EXPECT_EQ(set, 0u);
  EXPECT_EQ(ErrnoOf(syscall(SYS_rt_sigpending, &set, 16)), EINVAL);
  EXPECT_EQ(ErrnoOf(syscall(SYS_rt_sigpending, nullptr, 8)), EFAULT);
}

TEST_F(SignalTest, RestartSyscallWithoutRestartIsEintr) {
  // Nothing was interrupted: do_no_restart_syscall.
  EXPECT_EQ(ErrnoOf(syscall(SYS_restart_syscall)), EINTR);
}

}  // namespace
