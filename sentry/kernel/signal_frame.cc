// Building and reading x86-64 rt_sigframes. The arithmetic mirrors Linux's
// get_sigframe() and fpu__alloc_mathframe() (arch/x86/kernel/signal.c,
// fpu/signal.c); the checks mirror what rt_sigreturn and fpu__restore_sig
// accept.
#include "sentry/kernel/signal_frame.h"

#include <cstring>

namespace moat {
namespace {

// x86-64 leaves 128 bytes below rsp to leaf functions (the SysV ABI's red
// zone); the kernel skips them.
constexpr uint64_t kRedZone = 128;
// The kernel's MINSIGSTKSZ for x86 (glibc's macro is a sysconf call).
constexpr uint64_t kMinSigStackSize = 2048;
// From <linux/signal.h>, which clashes with glibc's headers.
constexpr int kSsAutodisarm = 1 << 31;
constexpr uint32_t kFpXstateMagic2Size = 4;

// RFLAGS bits.
constexpr uint64_t kFlagCf = 0x1, kFlagPf = 0x4, kFlagAf = 0x10,
                   kFlagZf = 0x40, kFlagSf = 0x80, kFlagTf = 0x100,
                   kFlagDf = 0x400, kFlagOf = 0x800, kFlagRf = 0x10000,
                   kFlagAc = 0x40000;
// FIX_EFLAGS: what rt_sigreturn takes from the frame; IOPL, IF, VM and the
// rest stay as the kernel has them.
constexpr uint64_t kUserFlags = kFlagAc | kFlagOf | kFlagDf | kFlagTf |
                                kFlagSf | kFlagZf | kFlagAf | kFlagPf |
                                kFlagCf | kFlagRf;

// The XSAVE components FXSAVE also covers (x87 and SSE).
constexpr uint64_t kXfeatureFpSse = 0x3;
// Components whose restore loads MXCSR (SSE, AVX).
constexpr uint64_t kXfeaturesWithMxcsr = 0x6;
// MXCSR and MXCSR_MASK in the FXSAVE image (Intel SDM vol. 1, 10.5.1).
constexpr size_t kMxcsrOffset = 24;
constexpr size_t kMxcsrMaskOffset = 28;
// The mask to assume when the CPU stores 0 there (SDM 11.6.6).
constexpr uint32_t kDefaultMxcsrMask = 0xffbf;

bool IsXsaveImage(absl::Span<const uint8_t> fp) {
  return fp.size() >= kFxsaveSize + kXstateHeaderSize;
}

uint32_t ReadU32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

uint64_t ReadU64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

void FillSigcontext(const Registers& regs, const siginfo_t& info,
                    SigSet saved_mask, uint64_t fpstate,
                    KernelSigcontext* sc) {
  const user_regs_struct& r = regs.r;
  *sc = {};
  sc->r8 = r.r8;
  sc->r9 = r.r9;
  sc->r10 = r.r10;
  sc->r11 = r.r11;
  sc->r12 = r.r12;
  sc->r13 = r.r13;
  sc->r14 = r.r14;
  sc->r15 = r.r15;
  sc->rdi = r.rdi;
  sc->rsi = r.rsi;
  sc->rbp = r.rbp;
  sc->rbx = r.rbx;
  sc->rdx = r.rdx;
  sc->rax = r.rax;
  sc->rcx = r.rcx;
  sc->rsp = r.rsp;
  sc->rip = r.rip;
  sc->eflags = r.eflags;
  sc->cs = static_cast<uint16_t>(r.cs);
  // Linux stores 0 for fs and gs on x86-64 (the bases are not in the
  // frame; they survive the handler untouched).
  sc->ss = static_cast<uint16_t>(r.ss);
  sc->trapno = TrapNumberFor(info);
  const bool page_fault = sc->trapno == 14;
  if (page_fault) {
    sc->cr2 = reinterpret_cast<uint64_t>(info.si_addr);
    // Page-fault error code: U (user mode) always; P for a protection
    // violation. The platform cannot tell reads from writes, so W is 0.
    sc->err = 0x4 | (info.si_code == SEGV_ACCERR ? 0x1 : 0x0);
  }
  sc->oldmask = saved_mask;
  sc->fpstate = fpstate;
}

}  // namespace

bool OnSigStack(const KernelStack& alt, uint64_t sp) {
  if (alt.flags & kSsAutodisarm) return false;
  return sp > alt.sp && sp - alt.sp <= alt.size;
}

int SigStackFlags(const KernelStack& alt, uint64_t sp) {
  if (alt.size == 0) return SS_DISABLE;
  return OnSigStack(alt, sp) ? SS_ONSTACK : 0;
}

ErrorOr<void> ChangeSigStack(KernelStack& alt, const KernelStack& requested,
                             uint64_t sp) {
  if (OnSigStack(alt, sp)) return Errno{EPERM};
  const int mode = requested.flags & ~kSsAutodisarm;
  if (mode != SS_DISABLE && mode != SS_ONSTACK && mode != 0) {
    return Errno{EINVAL};
  }
  KernelStack next = requested;
  next.pad = 0;
  if (mode == SS_DISABLE) {
    next.sp = 0;
    next.size = 0;
  } else if (next.size < kMinSigStackSize) {
    return Errno{ENOMEM};
  }
  alt = next;
  return {};
}

KernelStack ReportSigStack(const KernelStack& alt, uint64_t sp) {
  KernelStack out;
  out.sp = alt.sp;
  out.size = alt.size;
  out.flags = SigStackFlags(alt, sp) | (alt.flags & kSsAutodisarm);
  return out;
}

uint64_t TrapNumberFor(const siginfo_t& info) {
  if (info.si_code <= 0) return 0;  // Not raised by a fault.
  switch (info.si_signo) {
    case SIGSEGV:
      return info.si_code == SI_KERNEL ? 13 : 14;  // #GP : #PF
    case SIGBUS:
      return info.si_code == BUS_ADRALN ? 17 : 14;  // #AC : #PF
    case SIGFPE:
      if (info.si_code == FPE_INTDIV) return 0;  // #DE
      if (info.si_code == FPE_INTOVF) return 4;  // #OF
      return 19;                                 // #XM (SIMD)
    case SIGILL:
      return 6;  // #UD
    case SIGTRAP:
      return info.si_code == SI_KERNEL ? 3 : 1;  // #BP (int3) : #DB
    default:
      return 0;
  }
}

ErrorOr<void> SetupRtSigframe(MemoryManager& mm, Registers& regs,
                              KernelStack& alt,
                              const SignalFrameRequest& request) {
  const uint64_t orig_sp = regs.r.rsp;
  const bool was_on_alt = OnSigStack(alt, orig_sp);
  uint64_t sp = orig_sp - kRedZone;
  bool entering_alt = false;
  if ((request.action.flags & SA_ONSTACK) && SigStackFlags(alt, sp) == 0) {
    sp = alt.sp + alt.size;
    entering_alt = true;
  }

  // The FPU image goes above the frame, 64-byte aligned for XSAVE. With
  // XSAVE the image is followed by the 4-byte magic2.
  const absl::Span<const uint8_t> fp = request.fp_state;
  const bool xsave = IsXsaveImage(fp);
  uint64_t fpstate = 0;
  if (!fp.empty()) {
    const uint64_t math_size = fp.size() + (xsave ? kFpXstateMagic2Size : 0);
    sp = (sp - math_size) & ~uint64_t{63};
    fpstate = sp;
  }
  sp -= sizeof(RtSigframe);
  // At handler entry rsp + 8 must be 16-aligned, as after a `call`.
  sp = (sp & ~uint64_t{15}) - 8;
  // Running on the alternate stack and about to overflow it: Linux gives
  // up (the caller forces SIGSEGV) rather than scribble below it.
  if (was_on_alt && !OnSigStack(alt, sp)) return Errno{EFAULT};
  // An underflow past zero wraps to a huge address, which CopyOut refuses.

  RtSigframe frame;
  // Zeroed bytewise so no sentry stack contents reach the application.
  std::memset(static_cast<void*>(&frame), 0, sizeof(frame));
  frame.pretcode = request.action.restorer;
  frame.uc.uc_flags = kUcSigcontextSs | kUcStrictRestoreSs |
                      (xsave ? kUcFpXstate : 0);
  frame.uc.uc_link = 0;
  // uc_stack is the sigaltstack as it was before this delivery; the
  // handler may change it and rt_sigreturn installs the change.
  frame.uc.uc_stack.sp = alt.sp;
  frame.uc.uc_stack.flags = alt.size == 0 ? SS_DISABLE : alt.flags;
  frame.uc.uc_stack.size = alt.size;
  FillSigcontext(regs, *request.info, request.saved_mask, fpstate,
                 &frame.uc.uc_mcontext);
  frame.uc.uc_sigmask = request.saved_mask;
  frame.info = *request.info;

  if (!fp.empty()) {
    std::vector<uint8_t> image(fp.begin(), fp.end());
    if (xsave) {
      // The software-reserved bytes tell glibc and rt_sigreturn that an
      // XSAVE area of this size follows (Linux's save_sw_bytes()).
      FpxSwBytes sw{};
      sw.magic1 = kFpXstateMagic1;
      sw.extended_size =
          static_cast<uint32_t>(fp.size() + kFpXstateMagic2Size);
      sw.xfeatures = request.xfeatures;
      sw.xstate_size = static_cast<uint32_t>(fp.size());
      std::memcpy(image.data() + kFpxSwBytesOffset, &sw, sizeof(sw));
      const uint32_t magic2 = kFpXstateMagic2;
      const size_t at = image.size();
      image.resize(at + sizeof(magic2));
      std::memcpy(image.data() + at, &magic2, sizeof(magic2));
    }
    TRY_VOID(mm.CopyOut(UserAddr(fpstate), image.data(), image.size()));
  }
  TRY_VOID(mm.CopyOut(UserAddr(sp), &frame, sizeof(frame)));

  const int sig = request.info->si_signo;
  user_regs_struct& r = regs.r;
  r.rdi = static_cast<uint64_t>(sig);
  r.rsi = sp + offsetof(RtSigframe, info);
  r.rdx = sp + offsetof(RtSigframe, uc);
  r.rax = 0;  // No vector registers used by a variadic handler.
  r.rsp = sp;
  r.rip = request.action.handler;
  // The handler starts with the ABI's flag state (handle_signal()).
  r.eflags &= ~(kFlagDf | kFlagRf | kFlagTf);
  r.cs = kUserCs;
  r.ss = kUserDs;
  if (entering_alt && (alt.flags & kSsAutodisarm)) {
    alt = KernelStack{};  // sas_ss_reset(): disabled until sigreturn.
  }
  return {};
}

ErrorOr<void> RestoreRtSigframe(MemoryManager& mm, Registers& regs,
                                KernelStack& alt,
                                absl::Span<const uint8_t> host_fp,
                                uint64_t xfeatures, SigreturnState* out) {
  // The handler's `ret` popped pretcode: the frame starts 8 bytes below.
  const uint64_t frame_addr = regs.r.rsp - sizeof(uint64_t);
  RtSigframe frame;
  TRY_VOID(mm.CopyIn(UserAddr(frame_addr), &frame, sizeof(frame)));
  const KernelSigcontext& sc = frame.uc.uc_mcontext;

  user_regs_struct& r = regs.r;
  r.r8 = sc.r8;
  r.r9 = sc.r9;
  r.r10 = sc.r10;
  r.r11 = sc.r11;
  r.r12 = sc.r12;
  r.r13 = sc.r13;
  r.r14 = sc.r14;
  r.r15 = sc.r15;
  r.rdi = sc.rdi;
  r.rsi = sc.rsi;
  r.rbp = sc.rbp;
  r.rbx = sc.rbx;
  r.rdx = sc.rdx;
  r.rax = sc.rax;
  r.rcx = sc.rcx;
  r.rsp = sc.rsp;
  r.rip = sc.rip;
  r.eflags = (r.eflags & ~kUserFlags) | (sc.eflags & kUserFlags);
  // Only 64-bit user mode is supported: the selectors are forced to it
  // (Linux ORs in RPL 3; a 32-bit CS would switch modes, which the sentry
  // does not serve).
  r.cs = kUserCs;
  r.ss = kUserDs;
  // Not in a syscall any more: no restart may rewind this.
  r.orig_rax = static_cast<uint64_t>(-1);
  out->mask = frame.uc.uc_sigmask & ~kUnblockable;

  // FPU state (fpu__restore_sig).
  out->fp_state.clear();
  if (sc.fpstate != 0 && !host_fp.empty()) {
    uint8_t legacy[kFxsaveSize];
    TRY_VOID(mm.CopyIn(UserAddr(sc.fpstate), legacy, sizeof(legacy)));
    // FXRSTOR and XRSTOR (with SSE or AVX requested) load MXCSR and fault
    // on reserved bits: a bad frame. Checked here because the host only
    // checks it when the image marks those components in use.
    uint32_t mxcsr_mask = host_fp.size() >= kFxsaveSize
                              ? ReadU32(host_fp.data() + kMxcsrMaskOffset)
                              : 0;
    if (mxcsr_mask == 0) mxcsr_mask = kDefaultMxcsrMask;
    const bool loads_mxcsr =
        !IsXsaveImage(host_fp) || (xfeatures & kXfeaturesWithMxcsr) != 0;
    if (loads_mxcsr && (ReadU32(legacy + kMxcsrOffset) & ~mxcsr_mask)) {
      return Errno{EFAULT};
    }
    std::vector<uint8_t> image(host_fp.size(), 0);
    if (!IsXsaveImage(host_fp)) {
      std::memcpy(image.data(), legacy, sizeof(legacy));
    } else {
      FpxSwBytes sw;
      std::memcpy(&sw, legacy + kFpxSwBytesOffset, sizeof(sw));
      bool full = sw.magic1 == kFpXstateMagic1 &&
                  sw.xstate_size >= kFxsaveSize + kXstateHeaderSize &&
                  sw.xstate_size <= host_fp.size() &&
                  sw.xstate_size <= sw.extended_size;
      if (full) {
        // A legacy-only image copied around without its extension has no
        // magic2 after it: then only the FXSAVE part counts.
        uint32_t magic2 = 0;
        TRY_VOID(mm.CopyIn(UserAddr(sc.fpstate + sw.xstate_size), &magic2,
                           sizeof(magic2)));
        full = magic2 == kFpXstateMagic2;
      }
      if (full) {
        TRY_VOID(mm.CopyIn(UserAddr(sc.fpstate), image.data(),
                           sw.xstate_size));
        uint64_t xstate_bv = ReadU64(image.data() + kXstateHeaderOffset);
        // XRSTOR faults on features the OS has not enabled.
        if (xstate_bv & ~xfeatures) return Errno{EFAULT};
        // Features outside the frame's xfeatures get their initial state
        // (Linux re-inits them after XRSTOR).
        xstate_bv &= sw.xfeatures;
        std::memcpy(image.data() + kXstateHeaderOffset, &xstate_bv,
                    sizeof(xstate_bv));
      } else {
        // FXSAVE-only frame: x87 and SSE from it, the rest initial.
        std::memcpy(image.data(), legacy, sizeof(legacy));
        std::memcpy(image.data() + kXstateHeaderOffset, &kXfeatureFpSse,
                    sizeof(kXfeatureFpSse));
      }
      // The software-reserved bytes are ours to fill, not the host's.
      std::memset(image.data() + kFpxSwBytesOffset, 0, sizeof(FpxSwBytes));
    }
    out->fp_state = std::move(image);
  }

  // uc_stack: the handler may have changed the sigaltstack through it.
  // Like restore_altstack(), only an unreadable frame is fatal; a refused
  // change (EPERM on the stack, ENOMEM, EINVAL) is dropped.
  const KernelStack& want = frame.uc.uc_stack;
  if (want.sp != alt.sp || want.size != alt.size || want.flags != alt.flags) {
    (void)ChangeSigStack(alt, want, r.rsp);
  }
  return {};
}

}  // namespace moat
