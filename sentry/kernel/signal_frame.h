// The x86-64 rt_sigframe: the signal frame Linux builds on the application's
// stack before running a handler, and that rt_sigreturn(2) reads back. The
// layouts follow the kernel's UAPI headers (<asm/sigcontext.h>,
// <asm/ucontext.h>) because glibc, libunwind, debuggers and language
// runtimes read these frames directly.
//
// Everything read from a frame is hostile: the application may have
// rewritten it, or call rt_sigreturn with any stack pointer. Nothing here
// trusts a value it did not check, and memory is only touched through the
// MemoryManager.
//
// This file knows nothing of Task: callers pass in the pieces of thread
// state (registers, mask, sigaltstack, FPU image) and apply what comes out.
#ifndef MOAT_SENTRY_KERNEL_SIGNAL_FRAME_H_
#define MOAT_SENTRY_KERNEL_SIGNAL_FRAME_H_

#include <signal.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/types/span.h"
#include "sentry/arch/registers.h"
#include "sentry/base/error_or.h"
#include "sentry/kernel/signal.h"
#include "sentry/mm/memory_manager.h"

namespace moat {

// struct sigcontext, x86-64 flavour (<asm/sigcontext.h>).
struct KernelSigcontext {
  uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
  uint64_t rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp;
  uint64_t rip;
  uint64_t eflags;
  uint16_t cs, gs, fs, ss;  // ss is valid with UC_SIGCONTEXT_SS.
  uint64_t err;
  uint64_t trapno;
  uint64_t oldmask;
  uint64_t cr2;
  uint64_t fpstate;  // Address of the XSAVE/FXSAVE image; 0: none.
  uint64_t reserved1[8];
};
static_assert(sizeof(KernelSigcontext) == 256);

// struct ucontext (<asm/ucontext.h>): the kernel's, with an 8-byte sigset.
struct KernelUcontext {
  uint64_t uc_flags;
  uint64_t uc_link;
  KernelStack uc_stack;
  KernelSigcontext uc_mcontext;
  SigSet uc_sigmask;
};
static_assert(sizeof(KernelUcontext) == 304);

// struct rt_sigframe (arch/x86/include/asm/sigframe.h); the FPU image
// follows it, 64-byte aligned, at a higher address.
struct RtSigframe {
  uint64_t pretcode;  // sa_restorer: the handler returns there.
  KernelUcontext uc;
  siginfo_t info;
};
static_assert(sizeof(RtSigframe) == 440);
static_assert(offsetof(RtSigframe, uc) == 8);
static_assert(offsetof(RtSigframe, info) == 312);

// uc_flags (<asm/ucontext.h>).
inline constexpr uint64_t kUcFpXstate = 0x1;
inline constexpr uint64_t kUcSigcontextSs = 0x2;
inline constexpr uint64_t kUcStrictRestoreSs = 0x4;

// struct _fpx_sw_bytes (<asm/sigcontext.h>): the software-reserved bytes
// 464..511 of the FXSAVE image, which tell a reader of the frame that an
// XSAVE area follows and how large it is.
struct FpxSwBytes {
  uint32_t magic1;         // kFpXstateMagic1.
  uint32_t extended_size;  // xstate_size + 4 (the trailing magic2).
  uint64_t xfeatures;      // XCR0 features present in the image.
  uint32_t xstate_size;    // Bytes of the XSAVE image.
  uint32_t padding[7];
};
static_assert(sizeof(FpxSwBytes) == 48);
inline constexpr uint32_t kFpXstateMagic1 = 0x46505853;
inline constexpr uint32_t kFpXstateMagic2 = 0x46505845;
inline constexpr size_t kFxsaveSize = 512;
inline constexpr size_t kFpxSwBytesOffset = 464;
inline constexpr size_t kXstateHeaderOffset = 512;
inline constexpr size_t kXstateHeaderSize = 64;

// Whether `sp` is on the sigaltstack (Linux's on_sig_stack(): never, with
// SS_AUTODISARM, since the stack is disarmed while a handler runs on it).
bool OnSigStack(const KernelStack& alt, uint64_t sp);
// sas_ss_flags(): SS_DISABLE, SS_ONSTACK or 0.
int SigStackFlags(const KernelStack& alt, uint64_t sp);

// sigaltstack(2)'s change of the stack (do_sigaltstack). EPERM while
// running on it, EINVAL for a bad mode, ENOMEM for a stack smaller than
// MINSIGSTKSZ. On success `alt` holds the new stack.
ErrorOr<void> ChangeSigStack(KernelStack& alt, const KernelStack& requested,
                             uint64_t sp);
// What sigaltstack(2) reports as the old stack.
KernelStack ReportSigStack(const KernelStack& alt, uint64_t sp);

// What the frame builder needs besides the registers.
struct SignalFrameRequest {
  const siginfo_t* info = nullptr;
  KernelSigAction action;
  // The mask to restore on return (saved in uc_sigmask and oldmask).
  SigSet saved_mask = 0;
  // The FPU image from platform::Context::GetFpState; empty when the
  // context has none (the frame then says fpstate = 0, as Linux does for a
  // thread that never used the FPU).
  absl::Span<const uint8_t> fp_state;
  // XCR0: the XSAVE features the host enables for applications.
  uint64_t xfeatures = 0;
};

// Builds an rt_sigframe for `request` in application memory and points
// `regs` at the handler: rdi = signo, rsi = &frame->info, rdx = &frame->uc,
// rax = 0, rsp = frame (so that (rsp + 8) % 16 == 0, as after a call),
// rip = handler. `alt` is the sigaltstack; it is disarmed here when it has
// SS_AUTODISARM and the frame went onto it.
// Fails with EFAULT when the frame cannot be written (the caller forces
// SIGSEGV, as Linux's force_sigsegv), leaving `regs` and `alt` untouched.
ErrorOr<void> SetupRtSigframe(MemoryManager& mm, Registers& regs,
                              KernelStack& alt,
                              const SignalFrameRequest& request);

// What rt_sigreturn restores besides the registers.
struct SigreturnState {
  SigSet mask = 0;
  // The FPU image to load (same layout as GetFpState's), or empty to reset
  // the FPU to its initial state (fpstate == 0 in the frame).
  std::vector<uint8_t> fp_state;
};

// Reads the rt_sigframe that `regs.rsp - 8` points to (the handler's `ret`
// popped pretcode) and restores the general registers into `regs`:
// the user-changeable eflags bits only, CS/SS forced to the 64-bit user
// selectors, orig_rax = -1 so no syscall restart follows. `alt` is updated
// from uc_stack as sigaltstack(2) would (errors other than EFAULT are
// ignored, as in Linux's restore_altstack). `host_fp` is the current FPU
// image (for its size and layout). Fails with EFAULT on anything
// unreadable or malformed; `regs` may then be partly updated, which does
// not matter since the caller kills or re-signals the thread.
ErrorOr<void> RestoreRtSigframe(MemoryManager& mm, Registers& regs,
                                KernelStack& alt,
                                absl::Span<const uint8_t> host_fp,
                                uint64_t xfeatures, SigreturnState* out);

// x86 trap numbers Linux records in sigcontext.trapno for a fault signal.
uint64_t TrapNumberFor(const siginfo_t& info);

}  // namespace moat

#endif  // MOAT_SENTRY_KERNEL_SIGNAL_FRAME_H_
