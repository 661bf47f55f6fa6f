// Addresses and constants shared by the ptrace stub's assembly
// (stub_amd64.S) and the C++ that drives it. Plain #defines only: this header
// is included from assembly. ptrace_platform.cc static_asserts that they agree
// with sentry/arch/layout.h and the libc headers.
#ifndef MOAT_PLATFORM_PTRACE_STUB_LAYOUT_H_
#define MOAT_PLATFORM_PTRACE_STUB_LAYOUT_H_

// The stub occupies the bottom of the platform-reserved region
// (layout::kPlatformReservedBase): one read+execute code page followed by one
// read+write page used as the (unused but valid) stack of stub threads.
#define MOAT_STUB_BASE 0x7fffff000000
#define MOAT_STUB_CODE_SIZE 0x1000
#define MOAT_STUB_MAP_SIZE 0x2000
#define MOAT_STUB_STACK_TOP (MOAT_STUB_BASE + MOAT_STUB_MAP_SIZE)
// layout::kTaskSize.
#define MOAT_STUB_TASK_SIZE 0x7ffffffff000

// The memfd's descriptor number inside the source and every stub process;
// the source's control socket is the only other descriptor (source only).
#define MOAT_STUB_MEMFD_FD 0
#define MOAT_STUB_SOCKET_FD 1

// Exit status of a stub that could not set itself up.
#define MOAT_STUB_FAIL_EXIT 111

// Linux x86-64 ABI values the assembly needs (asm-safe copies).
#define MOAT_STUB_SIGSTOP 19
#define MOAT_STUB_PROT_RW 3  // PROT_READ | PROT_WRITE
#define MOAT_STUB_PROT_RX 5  // PROT_READ | PROT_EXEC
#define MOAT_STUB_MAP_PRIVATE_ANON_FIXED \
  0x32  // MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED

#endif  // MOAT_PLATFORM_PTRACE_STUB_LAYOUT_H_
