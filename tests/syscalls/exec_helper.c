// The program exec_test runs with execve: freestanding (no libc, a few KiB)
// so that its bytes can be embedded in exec_test and written into the
// sandbox's /tmp. It prints one line per argv element, the value of
// MOAT_EXEC_TEST from its environment, and AT_EXECFN; "fd=N" arguments
// print whether fd N is open (fcntl F_GETFD); "exit=N" sets the exit status.
#include <elf.h>
#include <fcntl.h>
#include <sys/syscall.h>

static long Syscall3(long nr, long a, long b, long c) {
  long ret;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(nr), "D"(a), "S"(b), "d"(c)
                   : "rcx", "r11", "memory");
  return ret;
}

static unsigned long Len(const char* s) {
  unsigned long n = 0;
  while (s[n] != '\0') ++n;
  return n;
}

static void Put(const char* s) { Syscall3(SYS_write, 1, (long)s, (long)Len(s)); }

static int StartsWith(const char* s, const char* prefix) {
  while (*prefix != '\0') {
    if (*s++ != *prefix++) return 0;
  }
  return 1;
}

static int ToInt(const char* s) {
  int v = 0;
  while (*s >= '0' && *s <= '9') v = v * 10 + (*s++ - '0');
  return v;
}

static void PutInt(int v) {
  char buf[16];
  int i = sizeof(buf) - 1;
  buf[i] = '\0';
  do {
    buf[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v > 0 && i > 0);
  Put(buf + i);
}

__attribute__((used)) static void HelperMain(long* sp) {
  int argc = (int)sp[0];
  char** argv = (char**)(sp + 1);
  char** envp = argv + argc + 1;
  int code = 0;
  for (int i = 0; i < argc; ++i) {
    Put("argv[");
    PutInt(i);
    Put("]=");
    Put(argv[i]);
    Put("\n");
    if (StartsWith(argv[i], "exit=")) code = ToInt(argv[i] + 5);
    if (StartsWith(argv[i], "fd=")) {
      int fd = ToInt(argv[i] + 3);
      Put("fd ");
      PutInt(fd);
      Put(Syscall3(SYS_fcntl, fd, F_GETFD, 0) >= 0 ? " open\n" : " closed\n");
    }
  }
  char** e = envp;
  for (; *e != 0; ++e) {
    if (StartsWith(*e, "MOAT_EXEC_TEST=")) {
      Put("env=");
      Put(*e + 15);
      Put("\n");
    }
  }
  for (Elf64_auxv_t* aux = (Elf64_auxv_t*)(e + 1); aux->a_type != AT_NULL; ++aux) {
    if (aux->a_type == AT_EXECFN) {
      Put("execfn=");
      Put((const char*)aux->a_un.a_val);
      Put("\n");
    }
  }
  Syscall3(SYS_exit_group, code, 0, 0);
}

// The kernel enters here with %rsp at argc.
__asm__(
    ".globl _start\n"
    "_start:\n"
    "  mov %rsp, %rdi\n"
    "  and $-16, %rsp\n"
    "  call HelperMain\n"
    "  hlt\n");
