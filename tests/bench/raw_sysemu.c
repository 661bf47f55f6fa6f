// The floor of any ptrace platform: the cheapest possible interception of a
// syscall with PTRACE_SYSEMU. A traced child loops raw getpid; for each one
// the parent does PTRACE_SYSEMU + waitpid + PTRACE_GETREGS + PTRACE_SETREGS
// (writing the "result"), exactly the host work a ptrace sentry cannot avoid.
//   raw_sysemu [N]      (default 200000)
// Output: "raw_sysemu: N iterations, X ns/op".
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long RawSyscall1(long nr) {
  long ret;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(nr) : "rcx", "r11", "memory");
  return ret;
}

static double NowNs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

// The traced child: only raw syscalls after the stop, so every syscall the
// parent sees is one of ours.
static void Child(long n) {
  if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0) _exit(100);
  long pid = RawSyscall1(SYS_getpid);
  __asm__ volatile("syscall"
                   :
                   : "a"((long)SYS_kill), "D"(pid), "S"((long)SIGSTOP)
                   : "rcx", "r11", "memory");
  for (long i = 0; i < n; ++i) RawSyscall1(SYS_getpid);
  __asm__ volatile("syscall" : : "a"((long)SYS_exit_group), "D"(0L)
                   : "rcx", "r11", "memory");
  for (;;) {
  }
}

int main(int argc, char** argv) {
  long n = argc > 1 ? strtol(argv[1], NULL, 0) : 200000;
  if (n <= 0) {
    fprintf(stderr, "usage: raw_sysemu [iterations > 0]\n");
    return 2;
  }
  pid_t child = fork();
  if (child < 0) {
    perror("raw_sysemu: fork");
    return 1;
  }
  if (child == 0) Child(n);

  int status;
  if (waitpid(child, &status, 0) != child || !WIFSTOPPED(status)) {
    fprintf(stderr, "raw_sysemu: child did not stop (status %#x)\n", status);
    return 1;
  }
  ptrace(PTRACE_SETOPTIONS, child, NULL, (void*)PTRACE_O_EXITKILL);

  long served = 0;
  double start = 0;
  struct user_regs_struct regs;
  for (;;) {
    if (ptrace(PTRACE_SYSEMU, child, NULL, NULL) != 0) {
      perror("raw_sysemu: PTRACE_SYSEMU");
      return 1;
    }
    if (waitpid(child, &status, 0) != child || !WIFSTOPPED(status)) {
      fprintf(stderr, "raw_sysemu: unexpected status %#x\n", status);
      return 1;
    }
    if (ptrace(PTRACE_GETREGS, child, NULL, &regs) != 0) {
      perror("raw_sysemu: PTRACE_GETREGS");
      return 1;
    }
    if (regs.orig_rax == SYS_exit_group) break;
    if (served == 0) start = NowNs();  // time from the first stop on
    regs.rax = regs.orig_rax == SYS_getpid ? (unsigned long long)child
                                           : (unsigned long long)-38;  // ENOSYS
    if (regs.orig_rax == SYS_getpid) ++served;
    if (ptrace(PTRACE_SETREGS, child, NULL, &regs) != 0) {
      perror("raw_sysemu: PTRACE_SETREGS");
      return 1;
    }
  }
  double elapsed = NowNs() - start;
  kill(child, SIGKILL);
  waitpid(child, &status, 0);
  if (served != n) {
    fprintf(stderr, "raw_sysemu: served %ld of %ld getpids\n", served, n);
    return 1;
  }
  // The first stop started the clock, so n stops were timed after it: the
  // n-1 remaining getpids and the exit_group.
  printf("raw_sysemu: %ld iterations, %.1f ns/op\n", n, elapsed / n);
  return 0;
}
