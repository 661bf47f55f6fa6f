// N raw getpid syscalls; prints the mean cost of one round trip.
//   getpid_loop [N]     (default 1000000)
// Output: "getpid_loop: N iterations, X ns/op". Static, so it runs under
// `moat do` and `runsc do` unchanged.
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>

static long RawGetpid(void) {
  long ret;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"((long)SYS_getpid)
                   : "rcx", "r11", "memory");
  return ret;
}

static double NowNs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char** argv) {
  long n = argc > 1 ? strtol(argv[1], NULL, 0) : 1000000;
  if (n <= 0) {
    fprintf(stderr, "usage: getpid_loop [iterations > 0]\n");
    return 2;
  }
  long pid = RawGetpid();
  double start = NowNs();
  for (long i = 0; i < n; ++i) {
    if (RawGetpid() != pid) {
      fprintf(stderr, "getpid_loop: getpid changed\n");
      return 1;
    }
  }
  double elapsed = NowNs() - start;
  printf("getpid_loop: %ld iterations, %.1f ns/op\n", n, elapsed / n);
  return 0;
}
