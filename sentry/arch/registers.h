// The x86-64 general-purpose register state of an application thread, in
// the kernel's `struct user_regs_struct` layout (what ptrace uses; other
// platforms translate). FPU/XSAVE state is kept by the platform.
#ifndef MOAT_SENTRY_ARCH_REGISTERS_H_
#define MOAT_SENTRY_ARCH_REGISTERS_H_

#include <sys/user.h>

#include <cstdint>

namespace moat {

struct Registers {
  user_regs_struct r{};

  // The syscall ABI: number in orig_rax (rax at entry), args in rdi, rsi,
  // rdx, r10, r8, r9, result in rax.
  uint64_t syscall_nr() const { return r.orig_rax; }
  uint64_t arg(int i) const {
    switch (i) {
      case 0: return r.rdi;
      case 1: return r.rsi;
      case 2: return r.rdx;
      case 3: return r.r10;
      case 4: return r.r8;
      default: return r.r9;
    }
  }
  void set_return(uint64_t value) { r.rax = value; }
  uint64_t ip() const { return r.rip; }
  uint64_t sp() const { return r.rsp; }
};

// Linux's user segment selectors on x86-64.
inline constexpr uint16_t kUserCs = 0x33;
inline constexpr uint16_t kUserDs = 0x2b;

// The register state of a new thread entering at `entry` with stack `sp`:
// everything zero, RFLAGS with only IF and the reserved bit set.
inline Registers InitialRegisters(uint64_t entry, uint64_t sp) {
  Registers regs;
  regs.r.rip = entry;
  regs.r.rsp = sp;
  regs.r.eflags = 0x202;
  regs.r.cs = kUserCs;
  regs.r.ss = kUserDs;
  return regs;
}

}  // namespace moat

#endif  // MOAT_SENTRY_ARCH_REGISTERS_H_
