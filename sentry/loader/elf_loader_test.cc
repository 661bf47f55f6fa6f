#include "sentry/loader/elf_loader.h"

#include <elf.h>
#include <sys/mman.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sentry/arch/layout.h"
#include "sentry/mm/fake_address_space.h"

namespace moat {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

// An executable held in memory, so tests can feed the loader broken files.
class MemorySource : public ExecutableSource {
 public:
  explicit MemorySource(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {}
  ErrorOr<uint64_t> ReadAt(uint64_t offset, void* buf, uint64_t len) override {
    if (offset >= bytes_.size()) return uint64_t{0};
    const uint64_t n = std::min<uint64_t>(len, bytes_.size() - offset);
    std::memcpy(buf, bytes_.data() + offset, n);
    return n;
  }

 private:
  std::vector<uint8_t> bytes_;
};

// A source that also offers itself as a Mappable, so segments are mapped
// privately and paged in on demand; counts the pages read.
class MappableSource : public ExecutableSource, public Mappable {
 public:
  explicit MappableSource(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {}
  ErrorOr<uint64_t> ReadAt(uint64_t offset, void* buf, uint64_t len) override {
    if (offset >= bytes_.size()) return uint64_t{0};
    const uint64_t n = std::min<uint64_t>(len, bytes_.size() - offset);
    std::memcpy(buf, bytes_.data() + offset, n);
    return n;
  }
  std::shared_ptr<Mappable> mappable() override {
    // Not owned: the test keeps the source alive longer than the mm.
    return std::shared_ptr<Mappable>(std::shared_ptr<Mappable>(), this);
  }
  ErrorOr<uint64_t> ReadPages(uint64_t offset, uint8_t* dst, uint64_t len) override {
    if (offset >= PageRoundUp(bytes_.size())) return Errno{EFAULT};
    const uint64_t n = std::min<uint64_t>(len, bytes_.size() - offset);
    std::memcpy(dst, bytes_.data() + offset, n);
    std::memset(dst + n, 0, len - n);
    pages_read += PageRoundUp(n) / kPageSize;
    return std::min(len, PageRoundUp(n));
  }
  uint64_t pages_read = 0;

 private:
  std::vector<uint8_t> bytes_;
};

std::optional<std::vector<uint8_t>> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

class ElfLoaderTest : public ::testing::Test {
 public:
  MemoryManager& mm() { return *mm_; }

 protected:
  void SetUp() override {
    mf_ = std::move(MemoryFile::Create()).value();
    NewMm();
  }
  void NewMm() {
    auto as = std::make_unique<FakeAddressSpace>();
    as_ = as.get();
    mm_ = std::make_unique<MemoryManager>(*mf_, std::move(as));
  }

  ExecRequest Request(const std::string& filename) {
    ExecRequest r;
    r.filename = filename;
    r.argv = {"prog", "first arg", ""};
    r.envp = {"HOME=/root", "PATH=/bin:/usr/bin"};
    r.uid = 1;
    r.euid = 2;
    r.gid = 3;
    r.egid = 4;
    r.hwcap = 0x178bfbff;
    r.hwcap2 = 2;
    r.minsigstksz = 3632;
    for (int i = 0; i < 16; ++i) r.random[i] = static_cast<uint8_t>(0xa0 + i);
    return r;
  }

  int LoadError(std::vector<uint8_t> bytes) {
    NewMm();
    MemorySource src(std::move(bytes));
    ErrorOr<LoadResult> r = LoadElf(src, Request("/x"), *mm_);
    return r.ok() ? 0 : r.error();
  }

  uint64_t Word(uint64_t addr) {
    uint64_t v = 0;
    EXPECT_TRUE(mm_->CopyIn(UserAddr(addr), &v, sizeof(v)).ok()) << std::hex << addr;
    return v;
  }
  std::string String(uint64_t addr) {
    ErrorOr<std::string> s = mm_->CopyInString(UserAddr(addr), 4096);
    EXPECT_TRUE(s.ok());
    return s.ok() ? *s : "";
  }

  std::unique_ptr<MemoryFile> mf_;
  FakeAddressSpace* as_ = nullptr;
  std::unique_ptr<MemoryManager> mm_;
};

TEST_F(ElfLoaderTest, LoadsStaticBusyboxWithLinuxStack) {
  auto bytes = ReadFile("/bin/busybox");
  if (!bytes) GTEST_SKIP() << "no /bin/busybox";
  Elf64_Ehdr eh;
  std::memcpy(&eh, bytes->data(), sizeof(eh));
  ASSERT_EQ(eh.e_type, ET_EXEC) << "expected a static /bin/busybox";
  std::vector<Elf64_Phdr> phdrs(eh.e_phnum);
  std::memcpy(phdrs.data(), bytes->data() + eh.e_phoff, eh.e_phnum * sizeof(Elf64_Phdr));
  uint64_t highest = 0;
  for (const auto& ph : phdrs) {
    if (ph.p_type == PT_LOAD) highest = std::max(highest, ph.p_vaddr + ph.p_memsz);
  }

  MemorySource src(*bytes);
  ExecRequest req = Request("/bin/busybox");
  ErrorOr<LoadResult> r = LoadElf(src, req, *mm_);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->entry, eh.e_entry);
  EXPECT_EQ(r->brk_start, PageRoundUp(highest));
  EXPECT_TRUE(r->interpreter.empty());
  EXPECT_EQ(mm_->Brk(UserAddr()).value(), r->brk_start);

  // Segment contents are the file's: the entry point's bytes, for one.
  for (const auto& ph : phdrs) {
    if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
    std::vector<uint8_t> got(64);
    const uint64_t off = eh.e_entry - ph.p_vaddr + ph.p_offset;
    ASSERT_TRUE(mm_->CopyIn(UserAddr(eh.e_entry), got.data(), got.size()).ok());
    EXPECT_EQ(0, std::memcmp(got.data(), bytes->data() + off, got.size()));
  }

  const uint64_t sp = r->stack_pointer;
  EXPECT_EQ(sp % 16, 0u);
  EXPECT_LT(sp, layout::kStackTop);
  EXPECT_GT(sp, layout::kStackTop - (64 << 10));
  uint64_t at = sp;
  EXPECT_EQ(Word(at), req.argv.size());
  at += 8;
  std::vector<uint64_t> argv, envp;
  for (size_t i = 0; i < req.argv.size(); ++i, at += 8) argv.push_back(Word(at));
  EXPECT_EQ(Word(at), 0u);
  at += 8;
  for (size_t i = 0; i < req.envp.size(); ++i, at += 8) envp.push_back(Word(at));
  EXPECT_EQ(Word(at), 0u);
  at += 8;
  for (size_t i = 0; i < argv.size(); ++i) EXPECT_EQ(String(argv[i]), req.argv[i]);
  for (size_t i = 0; i < envp.size(); ++i) EXPECT_EQ(String(envp[i]), req.envp[i]);

  std::vector<uint64_t> keys;
  std::map<uint64_t, uint64_t> aux;
  for (;; at += 16) {
    const uint64_t key = Word(at);
    keys.push_back(key);
    aux[key] = Word(at + 8);
    if (key == AT_NULL) break;
    ASSERT_LT(keys.size(), 64u);
  }
  const std::vector<uint64_t> want = {
      AT_MINSIGSTKSZ, AT_HWCAP,  AT_PAGESZ, AT_CLKTCK, AT_PHDR,   AT_PHENT,
      AT_PHNUM,       AT_BASE,   AT_FLAGS,  AT_ENTRY,  AT_UID,    AT_EUID,
      AT_GID,         AT_EGID,   AT_SECURE, AT_RANDOM, AT_HWCAP2, AT_EXECFN,
      AT_PLATFORM,    AT_NULL};
  EXPECT_THAT(keys, ElementsAreArray(want));
  EXPECT_EQ(aux[AT_MINSIGSTKSZ], req.minsigstksz);
  EXPECT_EQ(aux[AT_HWCAP], req.hwcap);
  EXPECT_EQ(aux[AT_HWCAP2], req.hwcap2);
  EXPECT_EQ(aux[AT_PAGESZ], kPageSize);
  EXPECT_EQ(aux[AT_CLKTCK], 100u);
  EXPECT_EQ(aux[AT_PHENT], sizeof(Elf64_Phdr));
  EXPECT_EQ(aux[AT_PHNUM], eh.e_phnum);
  EXPECT_EQ(aux[AT_BASE], 0u);
  EXPECT_EQ(aux[AT_FLAGS], 0u);
  EXPECT_EQ(aux[AT_ENTRY], eh.e_entry);
  EXPECT_EQ(aux[AT_UID], 1u);
  EXPECT_EQ(aux[AT_EUID], 2u);
  EXPECT_EQ(aux[AT_GID], 3u);
  EXPECT_EQ(aux[AT_EGID], 4u);
  EXPECT_EQ(aux[AT_SECURE], 0u);
  // AT_PHDR points at the program headers, as loaded.
  std::vector<Elf64_Phdr> loaded(eh.e_phnum);
  ASSERT_TRUE(mm_->CopyIn(UserAddr(aux[AT_PHDR]), loaded.data(),
                          loaded.size() * sizeof(Elf64_Phdr))
                  .ok());
  EXPECT_EQ(0, std::memcmp(loaded.data(), phdrs.data(), loaded.size() * sizeof(Elf64_Phdr)));
  uint8_t random[16];
  ASSERT_TRUE(mm_->CopyIn(UserAddr(aux[AT_RANDOM]), random, 16).ok());
  EXPECT_EQ(0, std::memcmp(random, req.random, 16));
  EXPECT_EQ(String(aux[AT_PLATFORM]), "x86_64");
  EXPECT_EQ(String(aux[AT_EXECFN]), "/bin/busybox");

  // Layout: argv strings below envp strings below the filename, which ends
  // one word below the top; the AT_RANDOM bytes and platform below argv.
  EXPECT_LT(argv.back(), envp.front());
  EXPECT_LT(envp.back(), aux[AT_EXECFN]);
  EXPECT_EQ(aux[AT_EXECFN] + req.filename.size() + 1, layout::kStackTop - 8);
  EXPECT_EQ(envp.front(), argv.back() + req.argv.back().size() + 1);
  EXPECT_LT(aux[AT_PLATFORM], argv.front());
  EXPECT_EQ(aux[AT_RANDOM] + 16, aux[AT_PLATFORM]);
  EXPECT_GT(aux[AT_RANDOM], at);

  const std::string maps = mm_->MapsText();
  EXPECT_THAT(maps, HasSubstr("rw-p 00000000 00:00 0"));
  EXPECT_THAT(maps, HasSubstr("[stack]"));
  EXPECT_THAT(maps, HasSubstr("/bin/busybox"));
  // Only the touched top of the 8 MiB stack is backed.
  EXPECT_LT(mm_->ResidentSize(), bytes->size() + (1 << 20));
}

TEST_F(ElfLoaderTest, VdsoComesFirstInAuxv) {
  auto bytes = ReadFile("/bin/busybox");
  if (!bytes) GTEST_SKIP() << "no /bin/busybox";
  MemorySource src(*bytes);
  ExecRequest req = Request("busybox");
  req.argv.clear();
  req.envp.clear();
  req.vdso_base = 0x7ffff7fc1000;
  ErrorOr<LoadResult> r = LoadElf(src, req, *mm_);
  ASSERT_TRUE(r.ok()) << r.error();
  const uint64_t sp = r->stack_pointer;
  EXPECT_EQ(sp % 16, 0u);
  EXPECT_EQ(Word(sp), 0u);      // argc
  EXPECT_EQ(Word(sp + 8), 0u);  // argv NULL
  EXPECT_EQ(Word(sp + 16), 0u);  // envp NULL
  EXPECT_EQ(Word(sp + 24), uint64_t{AT_SYSINFO_EHDR});
  EXPECT_EQ(Word(sp + 32), req.vdso_base);
  EXPECT_EQ(Word(sp + 40), uint64_t{AT_MINSIGSTKSZ});
}

TEST_F(ElfLoaderTest, StaticPieLoadsAtPieBase) {
  auto bytes = ReadFile(MOAT_STATIC_PIE_PATH);
  ASSERT_TRUE(bytes) << MOAT_STATIC_PIE_PATH;
  Elf64_Ehdr eh;
  std::memcpy(&eh, bytes->data(), sizeof(eh));
  ASSERT_EQ(eh.e_type, ET_DYN);
  MemorySource src(*bytes);
  ErrorOr<LoadResult> r = LoadElf(src, Request("/pie"), *mm_);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->entry, layout::kPieBase + eh.e_entry);
  EXPECT_EQ(r->stack_pointer % 16, 0u);
  // The ELF header is mapped at the base (first PT_LOAD at offset 0).
  uint8_t magic[4];
  ASSERT_TRUE(mm_->CopyIn(UserAddr(layout::kPieBase), magic, 4).ok());
  EXPECT_EQ(0, std::memcmp(magic, ELFMAG, 4));
  EXPECT_THAT(mm_->MapsText(), HasSubstr("555555554000-"));
}

TEST_F(ElfLoaderTest, DynamicProgramReportsInterpreter) {
  auto bytes = ReadFile("/bin/true");
  if (!bytes) GTEST_SKIP() << "no /bin/true";
  MemorySource src(*bytes);
  std::string interp;
  ErrorOr<LoadResult> r = LoadElf(src, Request("/bin/true"), *mm_, &interp);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), ENOEXEC);
  EXPECT_EQ(interp, "/lib64/ld-linux-x86-64.so.2");
  EXPECT_EQ(mm_->VirtualSize(), 0u);  // Nothing was mapped.
}

uint64_t AuxValue(ElfLoaderTest* t, uint64_t sp, uint64_t type);

TEST_F(ElfLoaderTest, DynamicProgramLoadsItsInterpreter) {
  auto prog = ReadFile("/bin/true");
  auto ld = ReadFile("/lib64/ld-linux-x86-64.so.2");
  if (!prog || !ld) GTEST_SKIP() << "no dynamic /bin/true or ld-linux";
  Elf64_Ehdr peh, ieh;
  std::memcpy(&peh, prog->data(), sizeof(peh));
  std::memcpy(&ieh, ld->data(), sizeof(ieh));
  ASSERT_EQ(peh.e_type, ET_DYN);
  ASSERT_EQ(ieh.e_type, ET_DYN);

  MemorySource src(*prog);
  ExecRequest req = Request("/bin/true");
  std::string opened;
  req.open_interpreter =
      [&](const std::string& path) -> ErrorOr<std::unique_ptr<ExecutableSource>> {
    opened = path;
    return std::unique_ptr<ExecutableSource>(std::make_unique<MemorySource>(*ld));
  };
  ErrorOr<LoadResult> r = LoadElf(src, req, *mm_);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(opened, "/lib64/ld-linux-x86-64.so.2");
  EXPECT_EQ(r->interpreter, opened);
  // The program at ELF_ET_DYN_BASE; the interpreter below the mmap base,
  // where the thread starts; auxv tells ld.so both.
  EXPECT_EQ(r->program_entry, layout::kPieBase + peh.e_entry);
  EXPECT_NE(r->interp_base, 0u);
  EXPECT_LT(r->interp_base, layout::kMmapTop);
  EXPECT_EQ(r->interp_base % kPageSize, 0u);
  EXPECT_EQ(r->entry, r->interp_base + ieh.e_entry);
  EXPECT_EQ(AuxValue(this, r->stack_pointer, AT_BASE), r->interp_base);
  EXPECT_EQ(AuxValue(this, r->stack_pointer, AT_ENTRY), r->program_entry);
  uint8_t magic[4];
  ASSERT_TRUE(mm_->CopyIn(UserAddr(r->interp_base), magic, 4).ok());
  EXPECT_EQ(0, std::memcmp(magic, ELFMAG, 4));
  EXPECT_THAT(mm_->MapsText(), HasSubstr("/lib64/ld-linux-x86-64.so.2"));
}

TEST_F(ElfLoaderTest, MissingOrBrokenInterpreterFailsTheLoad) {
  auto prog = ReadFile("/bin/true");
  if (!prog) GTEST_SKIP() << "no dynamic /bin/true";
  MemorySource src(*prog);
  ExecRequest req = Request("/bin/true");
  req.open_interpreter =
      [](const std::string&) -> ErrorOr<std::unique_ptr<ExecutableSource>> {
    return Errno{ENOENT};
  };
  ErrorOr<LoadResult> r = LoadElf(src, req, *mm_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), ENOENT);
  NewMm();
  req.open_interpreter =
      [](const std::string&) -> ErrorOr<std::unique_ptr<ExecutableSource>> {
    return std::unique_ptr<ExecutableSource>(
        std::make_unique<MemorySource>(std::vector<uint8_t>(64, 'x')));
  };
  r = LoadElf(src, req, *mm_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), ELIBBAD);
}

TEST_F(ElfLoaderTest, MappableSegmentsArePagedInOnDemand) {
  auto bytes = ReadFile(MOAT_STATIC_PIE_PATH);
  ASSERT_TRUE(bytes);
  MappableSource src(*bytes);
  ErrorOr<LoadResult> r = LoadElf(src, Request("/pie"), *mm_);
  ASSERT_TRUE(r.ok()) << r.error();
  // Only the partial pages before a bss were touched (to zero their tail).
  const uint64_t after_load = src.pages_read;
  EXPECT_LT(after_load, PageRoundUp(bytes->size()) / kPageSize);
  // Every PT_LOAD reads back as the file, with its bss zero.
  Elf64_Ehdr eh;
  std::memcpy(&eh, bytes->data(), sizeof(eh));
  for (int i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph;
    std::memcpy(&ph, bytes->data() + eh.e_phoff + i * sizeof(ph), sizeof(ph));
    if (ph.p_type != PT_LOAD) continue;
    std::vector<uint8_t> mem(ph.p_memsz);
    ASSERT_TRUE(mm_->CopyIn(UserAddr(layout::kPieBase + ph.p_vaddr), mem.data(),
                            mem.size()).ok());
    EXPECT_EQ(0, std::memcmp(mem.data(), bytes->data() + ph.p_offset, ph.p_filesz));
    for (uint64_t j = ph.p_filesz; j < ph.p_memsz; ++j) ASSERT_EQ(mem[j], 0) << j;
  }
  EXPECT_GT(src.pages_read, after_load);
}

TEST_F(ElfLoaderTest, RejectsMalformedFiles) {
  auto good = ReadFile(MOAT_STATIC_PIE_PATH);
  ASSERT_TRUE(good);
  ASSERT_EQ(LoadError(*good), 0);
  Elf64_Ehdr eh;
  std::memcpy(&eh, good->data(), sizeof(eh));
  auto phdr = [&](std::vector<uint8_t>& b, int i) {
    return reinterpret_cast<Elf64_Phdr*>(b.data() + eh.e_phoff + i * sizeof(Elf64_Phdr));
  };
  std::vector<int> loads;
  for (int i = 0; i < eh.e_phnum; ++i) {
    if (phdr(*good, i)->p_type == PT_LOAD) loads.push_back(i);
  }
  ASSERT_GE(loads.size(), 2u);

  EXPECT_EQ(LoadError({good->begin(), good->begin() + 10}), ENOEXEC);  // Truncated.
  EXPECT_EQ(LoadError({}), ENOEXEC);
  auto mutate = [&](auto fn) {
    std::vector<uint8_t> b = *good;
    fn(b, reinterpret_cast<Elf64_Ehdr*>(b.data()));
    return LoadError(std::move(b));
  };
  EXPECT_EQ(mutate([](auto&, Elf64_Ehdr* h) { h->e_ident[EI_MAG1] = 'X'; }), ENOEXEC);
  EXPECT_EQ(mutate([](auto&, Elf64_Ehdr* h) { h->e_ident[EI_CLASS] = ELFCLASS32; }), ENOEXEC);
  EXPECT_EQ(mutate([](auto&, Elf64_Ehdr* h) { h->e_ident[EI_DATA] = ELFDATA2MSB; }), ENOEXEC);
  EXPECT_EQ(mutate([](auto&, Elf64_Ehdr* h) { h->e_machine = EM_386; }), ENOEXEC);
  EXPECT_EQ(mutate([](auto&, Elf64_Ehdr* h) { h->e_type = ET_REL; }), ENOEXEC);
  EXPECT_EQ(mutate([](auto&, Elf64_Ehdr* h) { h->e_phentsize = 32; }), ENOEXEC);
  EXPECT_EQ(mutate([](auto&, Elf64_Ehdr* h) { h->e_phnum = 0; }), ENOEXEC);
  // Program headers beyond the end of the file.
  EXPECT_EQ(mutate([&](auto& b, Elf64_Ehdr* h) { h->e_phoff = b.size() - 8; }), ENOEXEC);
  EXPECT_EQ(mutate([](auto&, Elf64_Ehdr* h) { h->e_phoff = ~0ull - 16; }), ENOEXEC);
  // p_filesz > p_memsz.
  EXPECT_EQ(mutate([&](auto& b, Elf64_Ehdr*) {
              Elf64_Phdr* p = phdr(b, loads[0]);
              p->p_filesz = p->p_memsz + 1;
            }),
            ENOEXEC);
  // Overlapping (and misordered) segments.
  EXPECT_EQ(mutate([&](auto& b, Elf64_Ehdr*) {
              phdr(b, loads[1])->p_vaddr = phdr(b, loads[0])->p_vaddr;
              phdr(b, loads[1])->p_offset = phdr(b, loads[0])->p_offset;
            }),
            ENOEXEC);
  // p_offset and p_vaddr disagree modulo the alignment.
  EXPECT_EQ(mutate([&](auto& b, Elf64_Ehdr*) { phdr(b, loads[1])->p_offset += 8; }),
            ENOEXEC);
  // A segment's file bytes beyond the end of the file.
  EXPECT_EQ(mutate([&](auto& b, Elf64_Ehdr*) {
              Elf64_Phdr* p = phdr(b, loads.back());
              p->p_offset += b.size();
            }),
            ENOEXEC);
}

uint64_t AuxValue(ElfLoaderTest* t, uint64_t sp, uint64_t type) {
  auto word = [&](uint64_t addr) {
    uint64_t v = 0;
    EXPECT_TRUE(t->mm().CopyIn(UserAddr(addr), &v, sizeof(v)).ok());
    return v;
  };
  uint64_t p = sp + 8 * (word(sp) + 2);  // Past argc, argv and its NULL.
  while (word(p) != 0) p += 8;           // envp.
  for (p += 8; word(p) != AT_NULL; p += 16) {
    if (word(p) == type) return word(p + 8);
  }
  return ~0ull;
}

TEST_F(ElfLoaderTest, ArgumentsBeyondTheLimitAreE2big) {
  auto good = ReadFile(MOAT_STATIC_PIE_PATH);
  ASSERT_TRUE(good);
  MemorySource src(*good);
  ExecRequest req = Request("/pie");
  req.argv.assign(80, std::string(30000, 'a'));  // ~2.4 MB > 2 MiB.
  ErrorOr<LoadResult> r = LoadElf(src, req, *mm_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), E2BIG);
  NewMm();
  req.argv = {std::string(32 * kPageSize, 'b')};  // Longer than MAX_ARG_STRLEN.
  r = LoadElf(src, req, *mm_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), E2BIG);
  NewMm();
  req.argv.assign(60, std::string(30000, 'c'));  // ~1.8 MB fits.
  r = LoadElf(src, req, *mm_);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(Word(r->stack_pointer), 60u);
}

}  // namespace
}  // namespace moat
