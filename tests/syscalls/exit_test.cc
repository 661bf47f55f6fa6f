// exit_group(N) with N from argv[1] (default 42). The runner checks the exit
// status: only the low 8 bits of N survive (exit_group(256) exits 0).
// It writes nothing and calls no exit handlers: the raw syscall is the test.
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char** argv) {
  long status = argc > 1 ? strtol(argv[1], nullptr, 0) : 42;
  syscall(SYS_exit_group, status);
  return 99;  // not reached
}
