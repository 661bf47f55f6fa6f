#include "sentry/loader/elf_loader.h"

#include <elf.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "sentry/arch/layout.h"

namespace moat {
namespace {

// The main stack's mapping (RLIMIT_STACK); only touched pages are backed.
constexpr uint64_t kStackSize = 8ull << 20;
// fs/exec.c bprm_stack_limits(): strings and pointers may use a quarter of
// the stack limit.
constexpr uint64_t kArgLimit = kStackSize / 4;
// MAX_ARG_STRLEN: no single argument or environment string may be longer.
constexpr uint64_t kMaxArgStrlen = 32 * kPageSize;
constexpr uint64_t kMaxInterpLen = 4096;  // PATH_MAX.
constexpr char kPlatform[] = "x86_64";

// Reads exactly `len` bytes; a short read means the file is truncated.
ErrorOr<void> ReadExact(ExecutableSource& source, uint64_t offset, void* buf,
                        uint64_t len) {
  uint64_t n = TRY(source.ReadAt(offset, buf, len));
  if (n != len) return Errno{ENOEXEC};
  return {};
}

int ProtOf(uint32_t flags) {
  return (flags & PF_R ? PROT_READ : 0) | (flags & PF_W ? PROT_WRITE : 0) |
         (flags & PF_X ? PROT_EXEC : 0);
}

ErrorOr<void> CheckHeader(const Elf64_Ehdr& eh) {
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
      eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
      eh.e_machine != EM_X86_64 || (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) ||
      eh.e_phentsize != sizeof(Elf64_Phdr) ||
      // binfmt_elf: at least one and at most 64 KiB of program headers.
      eh.e_phnum < 1 || eh.e_phnum > 65536 / sizeof(Elf64_Phdr) ||
      eh.e_phoff > UINT64_MAX - eh.e_phnum * sizeof(Elf64_Phdr)) {
    return Errno{ENOEXEC};
  }
  return {};
}

// PT_LOAD segments must be self-consistent, ascending and disjoint.
ErrorOr<void> CheckLoads(const std::vector<const Elf64_Phdr*>& loads) {
  if (loads.empty()) return Errno{ENOEXEC};
  uint64_t prev_end = 0;
  for (const Elf64_Phdr* ph : loads) {
    const uint64_t align = ph->p_align;
    if (ph->p_filesz > ph->p_memsz || ph->p_memsz == 0 ||
        ph->p_offset > UINT64_MAX - ph->p_filesz ||
        ph->p_vaddr > layout::kTaskSize || ph->p_memsz > layout::kTaskSize - ph->p_vaddr ||
        (align > 1 && ((align & (align - 1)) != 0 ||
                       ph->p_offset % align != ph->p_vaddr % align)) ||
        // Within a page the file and memory images must line up to be mapped.
        ph->p_offset % kPageSize != ph->p_vaddr % kPageSize ||
        ph->p_vaddr < prev_end) {
      return Errno{ENOEXEC};
    }
    prev_end = ph->p_vaddr + ph->p_memsz;
  }
  return {};
}

// Maps one PT_LOAD at `bias` and copies its file bytes in. The memory is
// fresh, so the bss (and the rest of the last file page) is already zero.
ErrorOr<void> LoadSegment(ExecutableSource& source, const Elf64_Phdr& ph, uint64_t bias,
                          const std::string& name, uint64_t* mapped_end, int* last_prot,
                          MemoryManager& mm) {
  const int prot = ProtOf(ph.p_flags);
  const uint64_t start = bias + ph.p_vaddr;
  const uint64_t page_start = PageRoundDown(start);
  const uint64_t page_end = PageRoundUp(start + ph.p_memsz);
  uint64_t map_start = page_start;
  if (page_start < *mapped_end) {
    // The first page is shared with the previous segment: keep it mapped
    // and give it both segments' rights.
    map_start = *mapped_end;
    TRY_VOID(mm.MProtect(UserAddr(page_start), kPageSize, *last_prot | prot));
  }
  if (map_start < page_end) {
    MmapRequest req;
    req.addr = UserAddr(map_start);
    req.length = page_end - map_start;
    req.prot = prot;
    req.fixed = true;
    req.name = name;
    TRY(mm.MMap(req));
  }
  *mapped_end = page_end;
  *last_prot = prot;

  std::vector<uint8_t> buf(std::min<uint64_t>(ph.p_filesz, 1 << 20));
  for (uint64_t done = 0; done < ph.p_filesz;) {
    const uint64_t n = std::min<uint64_t>(buf.size(), ph.p_filesz - done);
    TRY_VOID(ReadExact(source, ph.p_offset + done, buf.data(), n));
    TRY_VOID(mm.CopyOutIgnoringProtection(UserAddr(start + done), buf.data(), n));
    done += n;
  }
  return {};
}

struct ImageInfo {
  uint64_t entry;
  uint64_t phdr;
  uint64_t phnum;
};

// Builds the initial stack as fs/exec.c and fs/binfmt_elf.c
// create_elf_tables() do, with no randomization: strings at the top, then
// the platform string and AT_RANDOM bytes, then argc, argv, envp and auxv
// below, with %rsp (at argc) 16-byte aligned. Returns %rsp.
ErrorOr<uint64_t> BuildStack(const ExecRequest& req, const ImageInfo& image,
                             uint64_t stack_top, MemoryManager& mm) {
  // bprm_stack_limits(): pointers and strings (the filename included) must
  // fit in a quarter of the stack.
  const uint64_t argc = req.argv.size(), envc = req.envp.size();
  const uint64_t ptr_size = (argc + envc) * sizeof(uint64_t);
  uint64_t strings = req.filename.size() + 1;
  for (const auto* list : {&req.argv, &req.envp}) {
    for (const std::string& s : *list) {
      if (s.size() + 1 > kMaxArgStrlen) return Errno{E2BIG};
      strings += s.size() + 1;
    }
  }
  if (ptr_size >= kArgLimit || strings > kArgLimit - ptr_size) return Errno{E2BIG};

  // The stack image, built in the sentry and copied out in one go. Offsets
  // are addresses relative to the buffer's end (stack_top).
  uint64_t p = stack_top - sizeof(uint64_t);  // bprm->p starts one word down.
  std::vector<std::pair<uint64_t, const std::string*>> placed;
  auto push_string = [&](const std::string& s) {
    p -= s.size() + 1;
    placed.emplace_back(p, &s);
    return p;
  };
  const uint64_t execfn = push_string(req.filename);
  // copy_strings() copies the last string first, so each array ends up in
  // order, argv below envp.
  std::vector<uint64_t> envp(envc), argv(argc);
  for (uint64_t i = envc; i-- > 0;) envp[i] = push_string(req.envp[i]);
  for (uint64_t i = argc; i-- > 0;) argv[i] = push_string(req.argv[i]);
  p &= ~uint64_t{15};  // arch_align_stack() without randomization.
  const std::string platform(kPlatform);
  const uint64_t platform_addr = push_string(platform);
  p -= sizeof(req.random);
  const uint64_t random_addr = p;

  std::vector<uint64_t> auxv;
  auto aux = [&auxv](uint64_t key, uint64_t value) {
    auxv.push_back(key);
    auxv.push_back(value);
  };
  if (req.vdso_base != 0) aux(AT_SYSINFO_EHDR, req.vdso_base);
  aux(AT_MINSIGSTKSZ, req.minsigstksz);
  aux(AT_HWCAP, req.hwcap);
  aux(AT_PAGESZ, kPageSize);
  aux(AT_CLKTCK, 100);
  aux(AT_PHDR, image.phdr);
  aux(AT_PHENT, sizeof(Elf64_Phdr));
  aux(AT_PHNUM, image.phnum);
  aux(AT_BASE, 0);
  aux(AT_FLAGS, 0);
  aux(AT_ENTRY, image.entry);
  aux(AT_UID, req.uid);
  aux(AT_EUID, req.euid);
  aux(AT_GID, req.gid);
  aux(AT_EGID, req.egid);
  aux(AT_SECURE, req.secure ? 1 : 0);
  aux(AT_RANDOM, random_addr);
  aux(AT_HWCAP2, req.hwcap2);
  aux(AT_EXECFN, execfn);
  aux(AT_PLATFORM, platform_addr);
  aux(AT_NULL, 0);

  // STACK_ROUND(sp - auxv words, argc + argv + NULL + envp + NULL).
  const uint64_t items = (argc + 1) + (envc + 1) + 1;
  const uint64_t rsp = (p - auxv.size() * sizeof(uint64_t) - items * sizeof(uint64_t)) &
                       ~uint64_t{15};

  std::vector<uint8_t> image_bytes(stack_top - rsp, 0);
  auto at = [&](uint64_t addr) { return image_bytes.data() + (addr - rsp); };
  for (const auto& [addr, s] : placed) std::memcpy(at(addr), s->c_str(), s->size() + 1);
  std::memcpy(at(random_addr), req.random, sizeof(req.random));
  std::vector<uint64_t> words;
  words.reserve(items + auxv.size());
  words.push_back(argc);
  words.insert(words.end(), argv.begin(), argv.end());
  words.push_back(0);
  words.insert(words.end(), envp.begin(), envp.end());
  words.push_back(0);
  words.insert(words.end(), auxv.begin(), auxv.end());
  std::memcpy(at(rsp), words.data(), words.size() * sizeof(uint64_t));
  TRY_VOID(mm.CopyOut(UserAddr(rsp), image_bytes.data(), image_bytes.size()));
  return rsp;
}

}  // namespace

ErrorOr<LoadResult> LoadElf(ExecutableSource& source, const ExecRequest& request,
                            MemoryManager& mm, std::string* interpreter) {
  Elf64_Ehdr eh;
  TRY_VOID(ReadExact(source, 0, &eh, sizeof(eh)));
  TRY_VOID(CheckHeader(eh));
  std::vector<Elf64_Phdr> phdrs(eh.e_phnum);
  TRY_VOID(ReadExact(source, eh.e_phoff, phdrs.data(), eh.e_phnum * sizeof(Elf64_Phdr)));

  std::vector<const Elf64_Phdr*> loads;
  const Elf64_Phdr* phdr_seg = nullptr;
  int stack_prot = PROT_READ | PROT_WRITE;
  LoadResult result;
  for (const Elf64_Phdr& ph : phdrs) {
    switch (ph.p_type) {
      case PT_LOAD:
        loads.push_back(&ph);
        break;
      case PT_PHDR:
        phdr_seg = &ph;
        break;
      case PT_GNU_STACK:
        // Without PT_GNU_STACK an x86-64 program gets a non-executable stack.
        if (ph.p_flags & PF_X) stack_prot |= PROT_EXEC;
        break;
      case PT_INTERP: {
        if (ph.p_filesz < 2 || ph.p_filesz > kMaxInterpLen) return Errno{ENOEXEC};
        std::string path(ph.p_filesz, '\0');
        TRY_VOID(ReadExact(source, ph.p_offset, path.data(), path.size()));
        if (path.back() != '\0') return Errno{ENOEXEC};
        path.pop_back();
        result.interpreter = std::move(path);
        break;
      }
      default:
        break;
    }
  }
  TRY_VOID(CheckLoads(loads));
  if (!result.interpreter.empty()) {
    if (interpreter != nullptr) *interpreter = result.interpreter;
    // Loading the interpreter needs the file system; not yet.
    return Errno{ENOEXEC};
  }

  // ET_DYN without an interpreter (static-pie) goes to ELF_ET_DYN_BASE.
  const uint64_t bias =
      eh.e_type == ET_DYN ? layout::kPieBase - PageRoundDown(loads.front()->p_vaddr) : 0;
  uint64_t mapped_end = 0, highest = 0;
  int last_prot = 0;
  for (const Elf64_Phdr* ph : loads) {
    TRY_VOID(LoadSegment(source, *ph, bias, request.filename, &mapped_end, &last_prot, mm));
    highest = std::max(highest, bias + ph->p_vaddr + ph->p_memsz);
  }

  uint64_t phdr_addr = 0;
  if (phdr_seg != nullptr) {
    phdr_addr = bias + phdr_seg->p_vaddr;
  } else {
    for (const Elf64_Phdr* ph : loads) {
      if (ph->p_offset <= eh.e_phoff && eh.e_phoff < ph->p_offset + ph->p_filesz) {
        phdr_addr = bias + ph->p_vaddr + (eh.e_phoff - ph->p_offset);
        break;
      }
    }
  }
  result.entry = bias + eh.e_entry;
  result.brk_start = PageRoundUp(highest);
  mm.SetBrkStart(UserAddr(result.brk_start));

  MmapRequest stack;
  stack.addr = UserAddr(layout::kStackTop - kStackSize);
  stack.length = kStackSize;
  stack.prot = stack_prot;
  stack.fixed_noreplace = true;
  stack.grows_down = true;
  stack.name = "[stack]";
  TRY(mm.MMap(stack));
  result.stack_pointer = TRY(BuildStack(
      request, ImageInfo{result.entry, phdr_addr, eh.e_phnum}, layout::kStackTop, mm));
  return result;
}

}  // namespace moat
