#include "sentry/kernel/signal_frame.h"

#include <signal.h>
#include <sys/mman.h>

#include <cstring>
#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "sentry/mm/fake_address_space.h"

namespace moat {
namespace {

constexpr uint64_t kStackBase = 0x20000000;
constexpr uint64_t kStackSize = 0x10000;
constexpr uint64_t kAltBase = 0x30000000;
constexpr uint64_t kAltSize = 0x4000;
constexpr uint64_t kXfeatures = 0x7;  // x87, SSE, AVX.
constexpr size_t kImageSize = 832;    // XSAVE legacy + header + AVX.

class SignalFrameTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mf_ = std::move(MemoryFile::Create()).value();
    mm_ = std::make_unique<MemoryManager>(*mf_,
                                          std::make_unique<FakeAddressSpace>());
    Map(kStackBase, kStackSize);
    Map(kAltBase, kAltSize);
    regs_ = InitialRegisters(0x401000, kStackBase + kStackSize - 0x100);
    regs_.r.rax = 0x1234;
    regs_.r.rbx = 0x5678;
    regs_.r.eflags = 0x202 | 0x400;  // DF set.
    info_.si_signo = SIGUSR1;
    info_.si_code = SI_USER;
    action_.handler = 0x402000;
    action_.restorer = 0x403000;
    action_.flags = kSaRestorer | SA_SIGINFO;
    fp_.assign(kImageSize, 0);
    for (size_t i = 160; i < 416; ++i) fp_[i] = static_cast<uint8_t>(i);  // xmm
    uint32_t mxcsr = 0x1f80, mask = 0xffff;
    std::memcpy(fp_.data() + 24, &mxcsr, 4);
    std::memcpy(fp_.data() + 28, &mask, 4);
    uint64_t bv = 0x7;
    std::memcpy(fp_.data() + 512, &bv, 8);
  }

  void Map(uint64_t addr, uint64_t len) {
    MmapRequest r;
    r.addr = UserAddr(addr);
    r.length = len;
    r.prot = PROT_READ | PROT_WRITE;
    r.fixed = true;
    ASSERT_TRUE(mm_->MMap(r).ok());
  }

  ErrorOr<void> BuildFrame() {
    SignalFrameRequest req;
    req.info = &info_;
    req.action = action_;
    req.saved_mask = 0x10;
    req.fp_state = fp_;
    req.xfeatures = kXfeatures;
    return SetupRtSigframe(*mm_, regs_, alt_, req);
  }

  // What the handler's `ret` leaves: rsp just above pretcode.
  ErrorOr<void> Return(SigreturnState* state) {
    regs_.r.rsp += 8;
    return RestoreRtSigframe(*mm_, regs_, alt_, fp_, kXfeatures, state);
  }

  std::unique_ptr<MemoryFile> mf_;
  std::unique_ptr<MemoryManager> mm_;
  Registers regs_;
  KernelStack alt_;
  siginfo_t info_{};
  KernelSigAction action_;
  std::vector<uint8_t> fp_;
};

TEST_F(SignalFrameTest, FrameRoundTrips) {
  const Registers before = regs_;
  ASSERT_TRUE(BuildFrame().ok());
  const uint64_t frame = regs_.r.rsp;
  EXPECT_EQ((frame + 8) % 16, 0u);
  EXPECT_LE(frame + sizeof(RtSigframe) + kImageSize,
            before.r.rsp - 128);  // Below the red zone.
  EXPECT_EQ(regs_.r.rip, action_.handler);
  EXPECT_EQ(regs_.r.rdi, static_cast<uint64_t>(SIGUSR1));
  EXPECT_EQ(regs_.r.rsi, frame + offsetof(RtSigframe, info));
  EXPECT_EQ(regs_.r.rdx, frame + offsetof(RtSigframe, uc));
  EXPECT_EQ(regs_.r.rax, 0u);
  EXPECT_EQ(regs_.r.eflags & 0x400, 0u);

  RtSigframe f;
  ASSERT_TRUE(mm_->CopyIn(UserAddr(frame), &f, sizeof(f)).ok());
  EXPECT_EQ(f.pretcode, action_.restorer);
  EXPECT_EQ(f.uc.uc_flags, kUcFpXstate | kUcSigcontextSs | kUcStrictRestoreSs);
  EXPECT_EQ(f.uc.uc_sigmask, 0x10u);
  EXPECT_EQ(f.uc.uc_mcontext.rax, 0x1234u);
  EXPECT_EQ(f.uc.uc_mcontext.fpstate % 64, 0u);
  FpxSwBytes sw;
  ASSERT_TRUE(mm_->CopyIn(UserAddr(f.uc.uc_mcontext.fpstate + 464), &sw,
                          sizeof(sw))
                  .ok());
  EXPECT_EQ(sw.magic1, kFpXstateMagic1);
  EXPECT_EQ(sw.xstate_size, kImageSize);
  EXPECT_EQ(sw.extended_size, kImageSize + 4);
  EXPECT_EQ(sw.xfeatures, kXfeatures);

  SigreturnState state;
  ASSERT_TRUE(Return(&state).ok());
  EXPECT_EQ(regs_.r.rax, 0x1234u);
  EXPECT_EQ(regs_.r.rbx, 0x5678u);
  EXPECT_EQ(regs_.r.rsp, before.r.rsp);
  EXPECT_EQ(regs_.r.rip, before.r.rip);
  EXPECT_EQ(regs_.r.eflags & 0x400, 0x400u);
  EXPECT_EQ(state.mask, 0x10u);
  ASSERT_EQ(state.fp_state.size(), kImageSize);
  EXPECT_EQ(std::memcmp(state.fp_state.data() + 160, fp_.data() + 160, 256),
            0);
}

TEST_F(SignalFrameTest, HostileFrameValuesAreConstrained) {
  ASSERT_TRUE(BuildFrame().ok());
  const uint64_t frame = regs_.r.rsp;
  RtSigframe f;
  ASSERT_TRUE(mm_->CopyIn(UserAddr(frame), &f, sizeof(f)).ok());
  f.uc.uc_mcontext.eflags = ~uint64_t{0};  // IOPL 3, VM, IF off...
  f.uc.uc_mcontext.cs = 0x8;               // Kernel code segment.
  f.uc.uc_mcontext.ss = 0;
  f.uc.uc_sigmask = ~uint64_t{0};          // Including SIGKILL/SIGSTOP.
  ASSERT_TRUE(mm_->CopyOut(UserAddr(frame), &f, sizeof(f)).ok());
  SigreturnState state;
  ASSERT_TRUE(Return(&state).ok());
  EXPECT_EQ(regs_.r.cs, kUserCs);
  EXPECT_EQ(regs_.r.ss, kUserDs);
  EXPECT_EQ(regs_.r.eflags & 0x3000, 0u) << "IOPL";
  EXPECT_EQ(regs_.r.eflags & 0x200, 0x200u) << "IF";
  EXPECT_EQ(state.mask & kUnblockable, 0u);
  EXPECT_EQ(regs_.r.orig_rax, static_cast<uint64_t>(-1));
}

TEST_F(SignalFrameTest, UnreadableFrameOrFpstateIsEfault) {
  SigreturnState state;
  regs_.r.rsp = 0x1000;  // Unmapped.
  EXPECT_EQ(RestoreRtSigframe(*mm_, regs_, alt_, fp_, kXfeatures, &state)
                .error(),
            EFAULT);
  regs_.r.rsp = ~uint64_t{0} - 4;  // Wraps.
  EXPECT_EQ(RestoreRtSigframe(*mm_, regs_, alt_, fp_, kXfeatures, &state)
                .error(),
            EFAULT);

  regs_ = InitialRegisters(0x401000, kStackBase + kStackSize - 0x100);
  ASSERT_TRUE(BuildFrame().ok());
  const uint64_t frame = regs_.r.rsp;
  RtSigframe f;
  ASSERT_TRUE(mm_->CopyIn(UserAddr(frame), &f, sizeof(f)).ok());
  f.uc.uc_mcontext.fpstate = 0x1000;
  ASSERT_TRUE(mm_->CopyOut(UserAddr(frame), &f, sizeof(f)).ok());
  EXPECT_EQ(Return(&state).error(), EFAULT);
}

TEST_F(SignalFrameTest, BadXstateFallsBackOrFails) {
  ASSERT_TRUE(BuildFrame().ok());
  const uint64_t frame = regs_.r.rsp;
  RtSigframe f;
  ASSERT_TRUE(mm_->CopyIn(UserAddr(frame), &f, sizeof(f)).ok());
  const uint64_t fp = f.uc.uc_mcontext.fpstate;
  // An xstate_size beyond what the host has: only the legacy part counts.
  FpxSwBytes sw;
  ASSERT_TRUE(mm_->CopyIn(UserAddr(fp + 464), &sw, sizeof(sw)).ok());
  sw.xstate_size = 1u << 30;
  ASSERT_TRUE(mm_->CopyOut(UserAddr(fp + 464), &sw, sizeof(sw)).ok());
  SigreturnState state;
  Registers saved = regs_;
  ASSERT_TRUE(Return(&state).ok());
  uint64_t bv;
  std::memcpy(&bv, state.fp_state.data() + 512, 8);
  EXPECT_EQ(bv, 0x3u);  // x87 and SSE only.

  // Reserved MXCSR bits: XRSTOR would fault.
  regs_ = saved;
  uint32_t mxcsr = 0xffffffff;
  ASSERT_TRUE(mm_->CopyOut(UserAddr(fp + 24), &mxcsr, 4).ok());
  EXPECT_EQ(Return(&state).error(), EFAULT);
}

TEST_F(SignalFrameTest, AltStackUsedOnceWithAutodisarm) {
  KernelStack want;
  want.sp = kAltBase;
  want.size = kAltSize;
  want.flags = static_cast<int32_t>(1u << 31);  // SS_AUTODISARM
  ASSERT_TRUE(ChangeSigStack(alt_, want, regs_.r.rsp).ok());
  action_.flags |= SA_ONSTACK;
  ASSERT_TRUE(BuildFrame().ok());
  EXPECT_GT(regs_.r.rsp, kAltBase);
  EXPECT_LT(regs_.r.rsp, kAltBase + kAltSize);
  EXPECT_EQ(alt_.size, 0u);  // Disarmed while the handler runs.
  SigreturnState state;
  ASSERT_TRUE(Return(&state).ok());
  EXPECT_EQ(alt_.sp, kAltBase);  // Re-armed from uc_stack.
  EXPECT_EQ(alt_.size, kAltSize);
}

TEST_F(SignalFrameTest, OverflowingTheAltStackFails) {
  KernelStack want;
  want.sp = kAltBase;
  want.size = 2048;
  want.flags = 0;
  ASSERT_TRUE(ChangeSigStack(alt_, want, regs_.r.rsp).ok());
  regs_.r.rsp = kAltBase + 1024;  // Already on it, little room left.
  action_.flags |= SA_ONSTACK;
  const Registers before = regs_;
  EXPECT_EQ(BuildFrame().error(), EFAULT);
  EXPECT_EQ(regs_.r.rip, before.r.rip);
}

TEST_F(SignalFrameTest, SigaltstackRules) {
  KernelStack want;
  want.sp = kAltBase;
  want.size = 1024;
  want.flags = 0;
  EXPECT_EQ(ChangeSigStack(alt_, want, 0).error(), ENOMEM);
  want.flags = 5;
  want.size = kAltSize;
  EXPECT_EQ(ChangeSigStack(alt_, want, 0).error(), EINVAL);
  want.flags = 0;
  ASSERT_TRUE(ChangeSigStack(alt_, want, 0).ok());
  EXPECT_EQ(ChangeSigStack(alt_, want, kAltBase + 16).error(), EPERM);
  EXPECT_EQ(ReportSigStack(alt_, kAltBase + 16).flags, SS_ONSTACK);
  EXPECT_EQ(ReportSigStack(alt_, 0).flags, 0);
  EXPECT_EQ(ReportSigStack(KernelStack{}, 0).flags, SS_DISABLE);
}

}  // namespace
}  // namespace moat
