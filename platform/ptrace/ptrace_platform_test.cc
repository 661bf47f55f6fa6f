// Tests of the ptrace platform: tiny machine-code programs run in stub
// address spaces, checking what the sentry relies on (syscall interception,
// faults, signals, interrupts, isolation, unmap taking effect, cleanup).
#include "platform/ptrace/ptrace_platform.h"

#include <dirent.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <thread>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sentry/base/testing_matchers.h"
#include "sentry/base/unique_fd.h"

namespace moat::platform {
namespace {

using ::moat::testing::IsOk;

constexpr uint64_t kCodeAddr = 0x400000;
constexpr uint64_t kDataAddr = 0x600000;
constexpr uint64_t kStackTop = 0x800000;
constexpr uint64_t kMemfdSize = 1 << 20;
constexpr int kAllProt = PROT_READ | PROT_WRITE | PROT_EXEC;

using Code = std::vector<uint8_t>;

// x86-64 encodings used by the programs below.
Code MovEaxImm(uint32_t v) {
  return {0xb8, uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16),
          uint8_t(v >> 24)};
}
const Code kSyscall = {0x0f, 0x05};
const Code kMovRaxToRdi = {0x48, 0x89, 0xc7};
const Code kUd2 = {0x0f, 0x0b};
const Code kInt3 = {0xcc};
const Code kJmpSelf = {0xeb, 0xfe};
// mov (abs32),%rbx / mov %rbx,(abs32) / mov (abs32),%rax.
Code LoadRbx(uint32_t addr) {
  return {0x48,
          0x8b,
          0x1c,
          0x25,
          uint8_t(addr),
          uint8_t(addr >> 8),
          uint8_t(addr >> 16),
          uint8_t(addr >> 24)};
}
Code StoreRbx(uint32_t addr) {
  return {0x48,
          0x89,
          0x1c,
          0x25,
          uint8_t(addr),
          uint8_t(addr >> 8),
          uint8_t(addr >> 16),
          uint8_t(addr >> 24)};
}
// movq %rax,%xmm0 / movq %xmm0,%rbx.
const Code kRaxToXmm0 = {0x66, 0x48, 0x0f, 0x6e, 0xc0};
const Code kXmm0ToRbx = {0x66, 0x48, 0x0f, 0x7e, 0xc3};

Code Concat(std::initializer_list<Code> parts) {
  Code out;
  for (const Code& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}
// A short jump from the end of `code` back to its start.
Code LoopBack(Code code) {
  const int rel = -static_cast<int>(code.size() + 2);
  code.push_back(0xeb);
  code.push_back(static_cast<uint8_t>(rel));
  return code;
}

int CountOpenFds() {
  int n = 0;
  DIR* dir = opendir("/proc/self/fd");
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n - 1;  // The DIR's own descriptor.
}

class PtracePlatformTest : public ::testing::Test {
 protected:
  void SetUp() override {
    memfd_ = UniqueFd(memfd_create("ptrace_platform_test", MFD_CLOEXEC));
    ASSERT_TRUE(memfd_.valid());
    ASSERT_EQ(ftruncate(memfd_.get(), kMemfdSize), 0);
    PlatformOptions options;
    options.memory_file_fd = memfd_.get();
    auto platform = NewPtracePlatform(options);
    ASSERT_THAT(platform, IsOk());
    platform_ = *std::move(platform);
    auto as = platform_->NewAddressSpace();
    if (!as.ok() && absl::IsPermissionDenied(as.status())) {
      GTEST_SKIP() << "ptrace not permitted here: " << as.status();
    }
    ASSERT_THAT(as, IsOk());
    as_ = *std::move(as);
    auto context = platform_->NewContext();
    ASSERT_THAT(context, IsOk());
    context_ = *std::move(context);
    // A stack page; the programs barely use it.
    ASSERT_TRUE(as_->MapFile(UserAddr(kStackTop - 0x1000), 0x1000, 0xf0000,
                             PROT_READ | PROT_WRITE)
                    .ok());
  }

  void TearDown() override {
    context_.reset();
    as_.reset();
    platform_.reset();
  }

  // Writes `code` at memfd offset `offset` and maps it at `addr` in `as`.
  void LoadCode(AddressSpace& as, const Code& code, uint64_t addr = kCodeAddr,
                uint64_t offset = 0) {
    ASSERT_EQ(pwrite(memfd_.get(), code.data(), code.size(), offset),
              static_cast<ssize_t>(code.size()));
    ASSERT_TRUE(
        as.MapFile(UserAddr(addr), 0x1000, offset, PROT_READ | PROT_EXEC).ok());
  }
  void WriteU64(uint64_t offset, uint64_t value) {
    ASSERT_EQ(pwrite(memfd_.get(), &value, 8, offset), 8);
  }
  uint64_t ReadU64(uint64_t offset) {
    uint64_t value = 0;
    EXPECT_EQ(pread(memfd_.get(), &value, 8, offset), 8);
    return value;
  }

  UniqueFd memfd_;
  std::unique_ptr<Platform> platform_;
  std::unique_ptr<AddressSpace> as_;
  std::unique_ptr<Context> context_;
};

TEST_F(PtracePlatformTest, SyscallAndReturnValue) {
  LoadCode(*as_, Concat({MovEaxImm(39), kSyscall, kMovRaxToRdi, MovEaxImm(60),
                         kSyscall}));
  Registers regs = InitialRegisters(kCodeAddr, kStackTop);
  Event event = context_->Switch(*as_, regs);
  ASSERT_EQ(event.kind, Event::Kind::kSyscall);
  EXPECT_EQ(regs.syscall_nr(), 39u);
  EXPECT_EQ(regs.ip(), kCodeAddr + 7);  // Just after the syscall.

  regs.set_return(1234);
  event = context_->Switch(*as_, regs);
  ASSERT_EQ(event.kind, Event::Kind::kSyscall);
  EXPECT_EQ(regs.syscall_nr(), 60u);
  EXPECT_EQ(regs.arg(0), 1234u);
}

TEST_F(PtracePlatformTest, UnmappedReadFaults) {
  LoadCode(*as_, Concat({LoadRbx(0x10000000), MovEaxImm(39), kSyscall}));
  Registers regs = InitialRegisters(kCodeAddr, kStackTop);
  Event event = context_->Switch(*as_, regs);
  ASSERT_EQ(event.kind, Event::Kind::kFault);
  EXPECT_EQ(event.info.si_signo, SIGSEGV);
  EXPECT_EQ(reinterpret_cast<uint64_t>(event.info.si_addr), 0x10000000u);
  EXPECT_EQ(regs.ip(), kCodeAddr);  // The faulting instruction.
  // The sentry can retry after mapping; the fault repeats while it does not.
  event = context_->Switch(*as_, regs);
  EXPECT_EQ(event.kind, Event::Kind::kFault);
}

TEST_F(PtracePlatformTest, UnmapRevokesAccessAndProtIsEnforced) {
  constexpr uint64_t kDataOffset = 0x10000;
  WriteU64(kDataOffset, 0x1122334455667788);
  LoadCode(*as_,
           LoopBack(Concat({LoadRbx(kDataAddr), MovEaxImm(39), kSyscall})));
  ASSERT_TRUE(
      as_->MapFile(UserAddr(kDataAddr), 0x1000, kDataOffset, PROT_READ).ok());

  Registers regs = InitialRegisters(kCodeAddr, kStackTop);
  Event event = context_->Switch(*as_, regs);
  ASSERT_EQ(event.kind, Event::Kind::kSyscall);
  EXPECT_EQ(regs.r.rbx, 0x1122334455667788u);

  // After Unmap returns, the same load must fault.
  as_->Unmap(UserAddr(kDataAddr), 0x1000);
  regs.r.rbx = 0;
  event = context_->Switch(*as_, regs);
  ASSERT_EQ(event.kind, Event::Kind::kFault);
  EXPECT_EQ(reinterpret_cast<uint64_t>(event.info.si_addr), kDataAddr);
  EXPECT_EQ(regs.r.rbx, 0u);

  // Mapped again read-only: reads work, writes fault.
  ASSERT_TRUE(
      as_->MapFile(UserAddr(kDataAddr), 0x1000, kDataOffset, PROT_READ).ok());
  event = context_->Switch(*as_, regs);
  ASSERT_EQ(event.kind, Event::Kind::kSyscall);
  EXPECT_EQ(regs.r.rbx, 0x1122334455667788u);

  LoadCode(*as_, Concat({StoreRbx(kDataAddr), MovEaxImm(39), kSyscall}),
           kCodeAddr + 0x1000, 0x1000);
  regs.r.rip = kCodeAddr + 0x1000;
  regs.r.rbx = 42;
  event = context_->Switch(*as_, regs);
  ASSERT_EQ(event.kind, Event::Kind::kFault);
  EXPECT_EQ(event.info.si_code, SEGV_ACCERR);
  EXPECT_EQ(reinterpret_cast<uint64_t>(event.info.si_addr), kDataAddr);
  EXPECT_EQ(ReadU64(kDataOffset), 0x1122334455667788u);

  // Writable: the store lands in the memory file.
  ASSERT_TRUE(as_->MapFile(UserAddr(kDataAddr), 0x1000, kDataOffset,
                           PROT_READ | PROT_WRITE)
                  .ok());
  event = context_->Switch(*as_, regs);
  ASSERT_EQ(event.kind, Event::Kind::kSyscall);
  EXPECT_EQ(ReadU64(kDataOffset), 42u);

  // Release drops everything, code included.
  as_->Release();
  regs.r.rip = kCodeAddr;
  event = context_->Switch(*as_, regs);
  ASSERT_EQ(event.kind, Event::Kind::kFault);
  EXPECT_EQ(reinterpret_cast<uint64_t>(event.info.si_addr), kCodeAddr);
}

TEST_F(PtracePlatformTest, MapFileRejectsThePlatformRegion) {
  EXPECT_FALSE(
      as_->MapFile(UserAddr(0x7fffff000000), 0x1000, 0, kAllProt).ok());
  EXPECT_FALSE(
      as_->MapFile(UserAddr(0x7ffffe000000), 0x2000000, 0, kAllProt).ok());
  EXPECT_FALSE(as_->MapFile(UserAddr(0x1000), 0x1000, 0, kAllProt).ok());
  EXPECT_FALSE(as_->MapFile(UserAddr(kCodeAddr + 1), 0x1000, 0, kAllProt).ok());
}

TEST_F(PtracePlatformTest, CpuExceptionsAreSignals) {
  struct Case {
    Code code;
    int signo;
  };
  const Case cases[] = {
      {kUd2, SIGILL},
      {kInt3, SIGTRAP},
      // xor %ecx,%ecx; mov $1,%eax; cltd; idiv %ecx
      {Concat({{0x31, 0xc9}, MovEaxImm(1), {0x99, 0xf7, 0xf9}}), SIGFPE},
      // mov (non-canonical),%rax: a general-protection fault.
      {{0x48, 0xa1, 0, 0, 0, 0, 0, 0, 0, 0x80}, SIGSEGV},
  };
  uint64_t offset = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.signo);
    LoadCode(*as_, c.code, kCodeAddr, offset);
    Registers regs = InitialRegisters(kCodeAddr, kStackTop);
    Event event = context_->Switch(*as_, regs);
    ASSERT_EQ(event.kind, Event::Kind::kSignal);
    EXPECT_EQ(event.info.si_signo, c.signo);
    offset += 0x1000;
  }
}

TEST_F(PtracePlatformTest, InterruptStopsARunningLoop) {
  LoadCode(*as_, kJmpSelf);
  Registers regs = InitialRegisters(kCodeAddr, kStackTop);
  const auto start = std::chrono::steady_clock::now();
  std::thread interrupter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    context_->Interrupt();
  });
  Event event = context_->Switch(*as_, regs);
  interrupter.join();
  EXPECT_EQ(event.kind, Event::Kind::kInterrupted);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_EQ(regs.ip(), kCodeAddr);
}

TEST_F(PtracePlatformTest, InterruptBeforeSwitchIsNotLost) {
  LoadCode(*as_, LoopBack(Concat({MovEaxImm(39), kSyscall})));
  Registers regs = InitialRegisters(kCodeAddr, kStackTop);
  // Before the first Switch (no stub thread yet) and between two.
  context_->Interrupt();
  EXPECT_EQ(context_->Switch(*as_, regs).kind, Event::Kind::kInterrupted);
  ASSERT_EQ(context_->Switch(*as_, regs).kind, Event::Kind::kSyscall);
  context_->Interrupt();
  EXPECT_EQ(context_->Switch(*as_, regs).kind, Event::Kind::kInterrupted);
  // And then it runs normally (one spurious kInterrupted is allowed).
  Event event = context_->Switch(*as_, regs);
  if (event.kind == Event::Kind::kInterrupted) {
    event = context_->Switch(*as_, regs);
  }
  EXPECT_EQ(event.kind, Event::Kind::kSyscall);
  EXPECT_EQ(regs.syscall_nr(), 39u);
}

TEST_F(PtracePlatformTest, AddressSpacesAreIsolated) {
  auto other = platform_->NewAddressSpace();
  ASSERT_THAT(other, IsOk());
  auto other_context = platform_->NewContext();
  ASSERT_THAT(other_context, IsOk());
  const Code program = Concat({LoadRbx(kDataAddr), MovEaxImm(39), kSyscall});
  LoadCode(*as_, program);
  LoadCode(**other, program);
  WriteU64(0x20000, 111);
  WriteU64(0x21000, 222);
  ASSERT_TRUE(
      as_->MapFile(UserAddr(kDataAddr), 0x1000, 0x20000, PROT_READ).ok());
  ASSERT_TRUE(
      (*other)->MapFile(UserAddr(kDataAddr), 0x1000, 0x21000, PROT_READ).ok());

  Registers regs = InitialRegisters(kCodeAddr, kStackTop);
  ASSERT_EQ(context_->Switch(*as_, regs).kind, Event::Kind::kSyscall);
  EXPECT_EQ(regs.r.rbx, 111u);
  regs = InitialRegisters(kCodeAddr, kStackTop);
  ASSERT_EQ((*other_context)->Switch(**other, regs).kind,
            Event::Kind::kSyscall);
  EXPECT_EQ(regs.r.rbx, 222u);

  // Unmapping in one leaves the other alone.
  (*other)->Unmap(UserAddr(kDataAddr), 0x1000);
  regs = InitialRegisters(kCodeAddr, kStackTop);
  ASSERT_EQ(context_->Switch(*as_, regs).kind, Event::Kind::kSyscall);
  EXPECT_EQ(regs.r.rbx, 111u);
  regs = InitialRegisters(kCodeAddr, kStackTop);
  EXPECT_EQ((*other_context)->Switch(**other, regs).kind, Event::Kind::kFault);
  other_context->reset();
}

TEST_F(PtracePlatformTest, OneContextAlternatesAddressSpaces) {
  auto other = platform_->NewAddressSpace();
  ASSERT_THAT(other, IsOk());
  // mov $0x1234,%eax; movq %rax,%xmm0; syscall(39); movq %xmm0,%rbx;
  // syscall(39): the FPU state must follow the task across address spaces.
  const Code program = Concat({MovEaxImm(0x1234), kRaxToXmm0, MovEaxImm(39),
                               kSyscall, kXmm0ToRbx, MovEaxImm(39), kSyscall});
  LoadCode(*as_, program);
  LoadCode(**other, program);
  for (int round = 0; round < 3; ++round) {
    Registers regs = InitialRegisters(kCodeAddr, kStackTop);
    ASSERT_EQ(context_->Switch(*as_, regs).kind, Event::Kind::kSyscall);
    ASSERT_EQ(context_->Switch(**other, regs).kind, Event::Kind::kSyscall);
    EXPECT_EQ(regs.r.rbx, 0x1234u);
    EXPECT_EQ(regs.ip(), kCodeAddr + program.size());
  }
  // ResetFpState clears xmm0.
  Registers regs = InitialRegisters(kCodeAddr, kStackTop);
  ASSERT_EQ(context_->Switch(**other, regs).kind, Event::Kind::kSyscall);
  context_->ResetFpState();
  ASSERT_EQ(context_->Switch(**other, regs).kind, Event::Kind::kSyscall);
  EXPECT_EQ(regs.r.rbx, 0u);
  // Destroy the other address space first, while the context still holds a
  // thread in it (as execve does); the context must cope.
  other->reset();
  regs = InitialRegisters(kCodeAddr, kStackTop);
  EXPECT_EQ(context_->Switch(*as_, regs).kind, Event::Kind::kSyscall);
}

TEST_F(PtracePlatformTest, MapFileFromAnotherThread) {
  LoadCode(*as_, kJmpSelf);  // Forces the stub thread into existence below.
  Registers regs = InitialRegisters(kCodeAddr, kStackTop);
  context_->Interrupt();
  ASSERT_EQ(context_->Switch(*as_, regs).kind, Event::Kind::kInterrupted);

  WriteU64(0x30000, 0xabcdef);
  std::thread mapper([&] {
    ASSERT_EQ(
        pwrite(memfd_.get(),
               Concat({LoadRbx(kDataAddr), MovEaxImm(39), kSyscall}).data(), 15,
               0x31000),
        15);
    EXPECT_TRUE(
        as_->MapFile(UserAddr(kDataAddr), 0x1000, 0x30000, PROT_READ).ok());
    EXPECT_TRUE(as_->MapFile(UserAddr(kCodeAddr + 0x1000), 0x1000, 0x31000,
                             PROT_READ | PROT_EXEC)
                    .ok());
  });
  mapper.join();
  regs.r.rip = kCodeAddr + 0x1000;
  ASSERT_EQ(context_->Switch(*as_, regs).kind, Event::Kind::kSyscall);
  EXPECT_EQ(regs.r.rbx, 0xabcdefu);
}

TEST_F(PtracePlatformTest, ContextOnAnotherThreadAndKilledStub) {
  // A context whose host thread is not the test's; killing the address
  // space while a context still has a thread in it is reported as SIGKILL.
  LoadCode(*as_, kJmpSelf);
  std::thread task([&] {
    auto context = platform_->NewContext();
    ASSERT_THAT(context, IsOk());
    Registers regs = InitialRegisters(kCodeAddr, kStackTop);
    (*context)->Interrupt();
    EXPECT_EQ((*context)->Switch(*as_, regs).kind, Event::Kind::kInterrupted);
    as_.reset();  // Kills the stub process.
    auto other = platform_->NewAddressSpace();
    ASSERT_THAT(other, IsOk());
    LoadCode(**other, Concat({MovEaxImm(39), kSyscall}), kCodeAddr, 0x2000);
    regs = InitialRegisters(kCodeAddr, kStackTop);
    EXPECT_EQ((*context)->Switch(**other, regs).kind, Event::Kind::kSyscall);
    context->reset();
  });
  task.join();
}

// The pids of our grandchildren: the stubs (children of the source, our
// only child in these tests).
std::vector<pid_t> FindStubPids() {
  std::vector<std::pair<pid_t, pid_t>> parents;  // (pid, ppid)
  DIR* dir = opendir("/proc");
  while (dirent* e = readdir(dir)) {
    const int pid = atoi(e->d_name);
    if (pid <= 0) continue;
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE* f = fopen(path, "r");
    if (f == nullptr) continue;
    char buf[512] = {};
    const size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    // "pid (comm) state ppid ...": comm may hold spaces; skip to the last ')'.
    const char* close = strrchr(buf, ')');
    int ppid = 0;
    char state;
    if (n > 0 && close != nullptr &&
        sscanf(close + 1, " %c %d", &state, &ppid) == 2) {
      parents.emplace_back(pid, ppid);
    }
  }
  closedir(dir);
  std::vector<pid_t> stubs;
  for (auto [source, source_parent] : parents) {
    if (source_parent != getpid()) continue;
    for (auto [pid, ppid] : parents) {
      if (ppid == source) stubs.push_back(pid);
    }
  }
  return stubs;
}

TEST_F(PtracePlatformTest, StubDeathIsReportedAsSigkill) {
  LoadCode(*as_, kJmpSelf);
  Registers regs = InitialRegisters(kCodeAddr, kStackTop);
  context_->Interrupt();
  ASSERT_EQ(context_->Switch(*as_, regs).kind, Event::Kind::kInterrupted);
  // Killed from outside (the OOM killer, an administrator).
  const std::vector<pid_t> stubs = FindStubPids();
  ASSERT_EQ(stubs.size(), 1u);
  ASSERT_EQ(kill(stubs[0], SIGKILL), 0);
  // Address-space operations fail instead of hanging, whichever notices
  // first; then the context reports the death.
  EXPECT_FALSE(as_->MapFile(UserAddr(kDataAddr), 0x1000, 0, PROT_READ).ok());
  as_->Unmap(UserAddr(kDataAddr), 0x1000);
  Event event = context_->Switch(*as_, regs);
  EXPECT_EQ(event.kind, Event::Kind::kSignal);
  EXPECT_EQ(event.info.si_signo, SIGKILL);
  EXPECT_EQ(context_->Switch(*as_, regs).info.si_signo, SIGKILL);
}

TEST(PtracePlatformCleanupTest, NothingLeaks) {
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  const int fds_before = CountOpenFds();
  {
    UniqueFd memfd(memfd_create("leak_test", MFD_CLOEXEC));
    ASSERT_EQ(ftruncate(memfd.get(), kMemfdSize), 0);
    PlatformOptions options;
    options.memory_file_fd = memfd.get();
    auto platform = NewPtracePlatform(options);
    ASSERT_THAT(platform, IsOk());
    for (int i = 0; i < 3; ++i) {
      auto as = (*platform)->NewAddressSpace();
      if (!as.ok() && absl::IsPermissionDenied(as.status())) {
        GTEST_SKIP() << "ptrace not permitted here: " << as.status();
      }
      ASSERT_THAT(as, IsOk());
      auto context = (*platform)->NewContext();
      ASSERT_THAT(context, IsOk());
      const Code code = Concat({MovEaxImm(39), kSyscall});
      ASSERT_EQ(pwrite(memfd.get(), code.data(), code.size(), 0), 7);
      ASSERT_TRUE(
          (*as)
              ->MapFile(UserAddr(kCodeAddr), 0x1000, 0, PROT_READ | PROT_EXEC)
              .ok());
      Registers regs = InitialRegisters(kCodeAddr, kStackTop);
      ASSERT_EQ((*context)->Switch(**as, regs).kind, Event::Kind::kSyscall);
      // Alternate destruction orders.
      if (i % 2 == 0) {
        context->reset();
        as->reset();
      } else {
        as->reset();
        context->reset();
      }
    }
  }
  EXPECT_EQ(CountOpenFds(), fds_before);
  // The subreaper setting makes any stub the source left behind our child
  // once the source is gone. Dead ones may still need reaping; none may be
  // alive.
  bool clean = false;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < deadline) {
    const pid_t pid = waitpid(-1, nullptr, WNOHANG | __WALL);
    if (pid < 0 && errno == ECHILD) {
      clean = true;
      break;
    }
    if (pid == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(clean) << "a child or tracee is still alive";
  prctl(PR_SET_CHILD_SUBREAPER, 0);
}

// Measures one getpid round trip through Switch, next to the floor: a raw
// PTRACE_SYSEMU + GETREGS + SETREGS loop on a traced child. Blocks of each
// alternate and the best block counts, so that noise from other load on the
// machine hits both alike. Prints only; never asserts on time.
TEST_F(PtracePlatformTest, GetpidRoundTripCost) {
  constexpr int kBlocks = 5;
  constexpr int kPerBlock = 4000;  // 20000 round trips each in all.
  LoadCode(*as_, LoopBack(Concat({MovEaxImm(39), kSyscall})));
  Registers regs = InitialRegisters(kCodeAddr, kStackTop);
  ASSERT_EQ(context_->Switch(*as_, regs).kind, Event::Kind::kSyscall);

  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ptrace(PTRACE_TRACEME, 0, nullptr, nullptr);
    raise(SIGSTOP);
    for (;;) syscall(SYS_getpid);
  }
  int status;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  user_regs_struct raw;

  using Clock = std::chrono::steady_clock;
  auto per_op_us = [](Clock::time_point start) {
    return std::chrono::duration<double, std::micro>(Clock::now() - start)
               .count() /
           kPerBlock;
  };
  double best_switch = 1e9;
  double best_raw = 1e9;
  for (int block = 0; block < kBlocks; ++block) {
    auto start = Clock::now();
    for (int i = 0; i < kPerBlock; ++i) {
      regs.set_return(1);
      ASSERT_EQ(context_->Switch(*as_, regs).kind, Event::Kind::kSyscall);
    }
    best_switch = std::min(best_switch, per_op_us(start));

    start = Clock::now();
    for (int i = 0; i < kPerBlock; ++i) {
      ptrace(PTRACE_SYSEMU, child, nullptr, nullptr);
      waitpid(child, &status, 0);
      ptrace(PTRACE_GETREGS, child, nullptr, &raw);
      raw.rax = 1;
      ptrace(PTRACE_SETREGS, child, nullptr, &raw);
    }
    best_raw = std::min(best_raw, per_op_us(start));
  }
  kill(child, SIGKILL);
  waitpid(child, &status, 0);
  std::printf(
      "getpid round trip (best of %d blocks of %d): Switch %.2f us/op, raw "
      "SYSEMU+GETREGS+SETREGS %.2f us/op, ratio %.2f\n",
      kBlocks, kPerBlock, best_switch, best_raw, best_switch / best_raw);
}

}  // namespace
}  // namespace moat::platform
