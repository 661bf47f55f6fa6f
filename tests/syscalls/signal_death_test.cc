// Signal cases whose result is the death of the process, checked by exit
// status (128 + signal to a shell). argv[1] says which:
//   bad_frame       rt_sigreturn with rsp at an unmapped address   -> SIGSEGV
//   bad_fpstate     handler points uc_mcontext.fpregs at unmapped
//                   memory and returns                             -> SIGSEGV
//   bad_mxcsr       handler sets reserved MXCSR bits in the frame  -> SIGSEGV
//   no_restorer     SIGILL handler without SA_RESTORER             -> SIGSEGV
//   blocked_segv    fault while SIGSEGV is blocked, handler set    -> SIGSEGV
//   ignored_fpe     divide by zero with SIGFPE ignored             -> SIGFPE
//   fault_in_handler the SIGSEGV handler faults again              -> SIGSEGV
//   none            exit 0 (the control case)
// Linux forces these (force_sig_info / force_sigsegv / signal_fault): a
// blocked or ignored fault signal is unblocked and reset to SIG_DFL.
// "moat-signal-death: armed" is printed just before the deadly step so the
// runner can tell it from an earlier failure.
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

namespace {

void Say(const char* msg) { syscall(SYS_write, 1, msg, strlen(msg)); }

[[noreturn]] void Fail(const char* msg) {
  Say(msg);
  syscall(SYS_exit_group, 2);
  __builtin_unreachable();
}

void* UnmappedPage() {
  void* p = mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) Fail("mmap failed\n");
  munmap(p, 4096);
  return p;
}

void* g_unmapped;

void PointFpregsAway(int, siginfo_t*, void* ucv) {
  auto* uc = static_cast<ucontext_t*>(ucv);
  uc->uc_mcontext.fpregs = static_cast<fpregset_t>(g_unmapped);
  uc->uc_mcontext.gregs[REG_RIP] += 2;
}

void BreakMxcsr(int, siginfo_t*, void* ucv) {
  auto* uc = static_cast<ucontext_t*>(ucv);
  uc->uc_mcontext.fpregs->mxcsr = 0xffffffff;
  uc->uc_mcontext.gregs[REG_RIP] += 2;
}

void Unreached(int, siginfo_t*, void*) {
  Fail("moat-signal-death: handler ran\n");
}

volatile int g_depth;
void FaultAgain(int, siginfo_t*, void*) {
  g_depth = g_depth + 1;
  if (g_depth > 1) Fail("moat-signal-death: handler re-entered\n");
  *static_cast<volatile char*>(g_unmapped) = 1;
}

void Install(int sig, void (*fn)(int, siginfo_t*, void*)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = fn;
  sa.sa_flags = SA_SIGINFO;
  if (sigaction(sig, &sa, nullptr) != 0) Fail("sigaction failed\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) Fail("usage: signal_death_test MODE\n");
  const char* how = argv[1];
  g_unmapped = UnmappedPage();
  if (strcmp(how, "none") == 0) {
    Say("moat-signal-death: nothing\n");
    return 0;
  }
  if (strcmp(how, "bad_frame") == 0) {
    Say("moat-signal-death: armed\n");
    asm volatile(
        "mov %0, %%rsp\n"
        "mov $15, %%eax\n"
        "syscall\n"
        :
        : "r"(static_cast<char*>(g_unmapped) + 2048)
        : "rax", "memory");
  } else if (strcmp(how, "bad_fpstate") == 0) {
    Install(SIGILL, PointFpregsAway);
    Say("moat-signal-death: armed\n");
    asm volatile("ud2");
  } else if (strcmp(how, "bad_mxcsr") == 0) {
    Install(SIGILL, BreakMxcsr);
    Say("moat-signal-death: armed\n");
    asm volatile("ud2");
  } else if (strcmp(how, "no_restorer") == 0) {
    // The kernel's struct sigaction, given raw so glibc adds no restorer.
    struct {
      void* handler;
      unsigned long flags;
      void* restorer;
      uint64_t mask;
    } act = {reinterpret_cast<void*>(Unreached), SA_SIGINFO, nullptr, 0};
    if (syscall(SYS_rt_sigaction, SIGILL, &act, nullptr, 8) != 0) {
      Fail("rt_sigaction failed\n");
    }
    Say("moat-signal-death: armed\n");
    asm volatile("ud2");
  } else if (strcmp(how, "blocked_segv") == 0) {
    Install(SIGSEGV, Unreached);
    uint64_t block = uint64_t{1} << (SIGSEGV - 1);
    syscall(SYS_rt_sigprocmask, SIG_BLOCK, &block, nullptr, 8);
    Say("moat-signal-death: armed\n");
    *static_cast<volatile char*>(g_unmapped) = 1;
  } else if (strcmp(how, "ignored_fpe") == 0) {
    signal(SIGFPE, SIG_IGN);
    Say("moat-signal-death: armed\n");
    // In assembly: the compiler may not emit a division it can prove is
    // undefined.
    asm volatile("xor %%ecx, %%ecx\n mov $10, %%eax\n cltd\n idiv %%ecx\n"
                 :
                 :
                 : "rax", "rcx", "rdx", "cc");
  } else if (strcmp(how, "fault_in_handler") == 0) {
    Install(SIGSEGV, FaultAgain);
    Say("moat-signal-death: armed\n");
    *static_cast<volatile char*>(g_unmapped) = 1;
  } else {
    Fail("moat-signal-death: unknown mode\n");
  }
  Say("moat-signal-death: survived\n");
  return 1;
}
