// Touches memory it must not and is expected to die by SIGSEGV (status 139
// to a shell). argv[1] says how:
//   munmap     read a page after munmap
//   prot_none  read a PROT_NONE page
//   read_only  write a PROT_READ page
//   mremap_old read the old range after mremap moved it
//   none       touch nothing; exit 0 (the control case)
// It prints "moat-fault-test: touching\n" just before the access so the
// runner can tell the intended fault from an earlier failure.
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace {

constexpr long kPage = 4096;

void Say(const char* msg) { syscall(SYS_write, 1, msg, strlen(msg)); }

[[noreturn]] void Fail(const char* msg) {
  Say(msg);
  syscall(SYS_exit_group, 2);
  __builtin_unreachable();
}

volatile char* Map(int prot) {
  long p = syscall(SYS_mmap, nullptr, 2 * kPage, prot,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p < 0 && p > -4096) Fail("moat-fault-test: mmap failed\n");
  if (p == -1) Fail("moat-fault-test: mmap failed\n");
  return reinterpret_cast<volatile char*>(p);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) Fail("usage: fault_test munmap|prot_none|read_only|mremap_old|none\n");
  const char* how = argv[1];
  volatile char* target = nullptr;
  bool write = false;
  if (strcmp(how, "munmap") == 0) {
    target = Map(PROT_READ | PROT_WRITE);
    target[0] = 1;
    if (syscall(SYS_munmap, target, 2 * kPage) != 0) Fail("munmap failed\n");
  } else if (strcmp(how, "prot_none") == 0) {
    target = Map(PROT_NONE);
  } else if (strcmp(how, "read_only") == 0) {
    target = Map(PROT_READ | PROT_WRITE);
    target[0] = 1;
    if (syscall(SYS_mprotect, target, 2 * kPage, PROT_READ) != 0)
      Fail("mprotect failed\n");
    if (target[0] != 1) Fail("contents lost\n");
    write = true;
  } else if (strcmp(how, "mremap_old") == 0) {
    volatile char* old = Map(PROT_READ | PROT_WRITE);
    old[0] = 1;
    // Move to a destination of our choosing (MREMAP_FIXED), so the move is
    // certain whatever the allocator would have done.
    volatile char* dest = Map(PROT_READ | PROT_WRITE);
    long moved = syscall(SYS_mremap, old, 2 * kPage, 2 * kPage,
                         MREMAP_MAYMOVE | MREMAP_FIXED, dest);
    if (moved != reinterpret_cast<long>(dest)) Fail("mremap failed\n");
    if (dest[0] != 1) Fail("contents lost in the move\n");
    target = old;
  } else if (strcmp(how, "none") == 0) {
    Say("moat-fault-test: no fault\n");
    return 0;
  } else {
    Fail("moat-fault-test: unknown mode\n");
  }
  Say("moat-fault-test: touching\n");
  if (write) {
    target[kPage] = 2;
  } else {
    (void)target[kPage];
  }
  Say("moat-fault-test: survived the access\n");
  return 1;
}
