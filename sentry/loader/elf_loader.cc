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

// Maps one PT_LOAD at `bias`. With a Mappable the file part is a private
// file mapping (Linux's elf_map) and only the partial page after p_filesz
// is touched now, to zero it (padzero); without, fresh memory is mapped and
// the file bytes copied in. Either way the bss is zero.
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
  *mapped_end = std::max(*mapped_end, page_end);
  *last_prot = prot;
  const std::shared_ptr<Mappable> mappable = source.mappable();
  const uint64_t file_end = start + ph.p_filesz;  // Address after the file bytes.
  // What is copied rather than mapped: everything without a Mappable, else
  // only the file bytes in a page shared with the previous segment.
  uint64_t copy_end = file_end;
  if (mappable != nullptr && map_start < page_end) {
    const uint64_t file_map_end = std::min(page_end, PageRoundUp(file_end));
    if (map_start < file_map_end) {
      MmapRequest req;
      req.addr = UserAddr(map_start);
      req.length = file_map_end - map_start;
      req.prot = prot;
      req.fixed = true;
      req.mappable = mappable;
      req.offset = PageRoundDown(ph.p_offset) + (map_start - page_start);
      req.name = name;
      TRY(mm.MMap(req));
    }
    if (std::max(map_start, file_map_end) < page_end) {
      MmapRequest bss;
      bss.addr = UserAddr(std::max(map_start, file_map_end));
      bss.length = page_end - bss.addr.value();
      bss.prot = prot;
      bss.fixed = true;
      bss.name = name;
      TRY(mm.MMap(bss));
    }
    copy_end = std::min(file_end, std::max(start, map_start));
    // bss inside a page shared with the previous segment: that page shows
    // the previous segment's file bytes there.
    const uint64_t shared_bss_end = std::min(map_start, start + ph.p_memsz);
    if (file_end < shared_bss_end) {
      std::vector<uint8_t> zeros(shared_bss_end - file_end, 0);
      TRY_VOID(mm.CopyOutIgnoringProtection(UserAddr(file_end), zeros.data(),
                                            zeros.size()));
    }
    // The rest of the last file page belongs to the bss: zero it.
    if (ph.p_memsz > ph.p_filesz && file_end >= map_start &&
        file_end < file_map_end) {
      std::vector<uint8_t> zeros(file_map_end - file_end, 0);
      TRY_VOID(mm.CopyOutIgnoringProtection(UserAddr(file_end), zeros.data(),
                                            zeros.size()));
    }
  } else if (map_start < page_end) {
    MmapRequest req;
    req.addr = UserAddr(map_start);
    req.length = page_end - map_start;
    req.prot = prot;
    req.fixed = true;
    req.name = name;
    TRY(mm.MMap(req));
  }

  const uint64_t copy_len = copy_end > start ? copy_end - start : 0;
  std::vector<uint8_t> buf(std::min<uint64_t>(copy_len, 1 << 20));
  for (uint64_t done = 0; done < copy_len;) {
    const uint64_t n = std::min<uint64_t>(buf.size(), copy_len - done);
    TRY_VOID(ReadExact(source, ph.p_offset + done, buf.data(), n));
    TRY_VOID(mm.CopyOutIgnoringProtection(UserAddr(start + done), buf.data(), n));
    done += n;
  }
  return {};
}

// An executable's headers, read and checked.
struct ElfFile {
  Elf64_Ehdr eh;
  std::vector<Elf64_Phdr> phdrs;
  std::vector<const Elf64_Phdr*> loads;  // Point into phdrs.
  const Elf64_Phdr* phdr_seg = nullptr;
  int stack_prot = PROT_READ | PROT_WRITE;
  std::string interpreter;
};

ErrorOr<void> ReadElf(ExecutableSource& source, ElfFile* elf) {
  Elf64_Ehdr& eh = elf->eh;
  TRY_VOID(ReadExact(source, 0, &eh, sizeof(eh)));
  TRY_VOID(CheckHeader(eh));
  elf->phdrs.resize(eh.e_phnum);
  TRY_VOID(ReadExact(source, eh.e_phoff, elf->phdrs.data(),
                     eh.e_phnum * sizeof(Elf64_Phdr)));
  for (const Elf64_Phdr& ph : elf->phdrs) {
    switch (ph.p_type) {
      case PT_LOAD:
        elf->loads.push_back(&ph);
        break;
      case PT_PHDR:
        elf->phdr_seg = &ph;
        break;
      case PT_GNU_STACK:
        // Without PT_GNU_STACK an x86-64 program gets a non-executable stack.
        if (ph.p_flags & PF_X) elf->stack_prot |= PROT_EXEC;
        break;
      case PT_INTERP: {
        // binfmt_elf: one PT_INTERP, a NUL-terminated path of sane length.
        if (!elf->interpreter.empty()) return Errno{ENOEXEC};
        if (ph.p_filesz < 2 || ph.p_filesz > kMaxInterpLen) return Errno{ENOEXEC};
        std::string path(ph.p_filesz, '\0');
        TRY_VOID(ReadExact(source, ph.p_offset, path.data(), path.size()));
        if (path.back() != '\0') return Errno{ENOEXEC};
        path.pop_back();
        if (path.find('\0') != std::string::npos) return Errno{ENOEXEC};
        elf->interpreter = std::move(path);
        break;
      }
      default:
        break;
    }
  }
  return CheckLoads(elf->loads);
}

// Maps every PT_LOAD of `elf` at `bias`; returns the end of the highest.
ErrorOr<uint64_t> MapImage(ExecutableSource& source, const ElfFile& elf, uint64_t bias,
                           const std::string& name, MemoryManager& mm) {
  uint64_t mapped_end = 0, highest = 0;
  int last_prot = 0;
  for (const Elf64_Phdr* ph : elf.loads) {
    TRY_VOID(LoadSegment(source, *ph, bias, name, &mapped_end, &last_prot, mm));
    highest = std::max(highest, bias + ph->p_vaddr + ph->p_memsz);
  }
  return highest;
}

// Where the program headers are in memory: PT_PHDR, else the PT_LOAD that
// contains them in the file.
uint64_t PhdrAddress(const ElfFile& elf, uint64_t bias) {
  if (elf.phdr_seg != nullptr) return bias + elf.phdr_seg->p_vaddr;
  for (const Elf64_Phdr* ph : elf.loads) {
    if (ph->p_offset <= elf.eh.e_phoff && elf.eh.e_phoff < ph->p_offset + ph->p_filesz) {
      return bias + ph->p_vaddr + (elf.eh.e_phoff - ph->p_offset);
    }
  }
  return 0;
}

// load_elf_interp(): an ET_DYN interpreter goes where mmap would put a
// mapping of its whole span (top-down below the mmap base); an ET_EXEC one
// at its own addresses. Returns its bias (AT_BASE).
ErrorOr<uint64_t> LoadInterpreter(ExecutableSource& source, const ElfFile& elf,
                                  const std::string& name, MemoryManager& mm) {
  uint64_t bias = 0;
  if (elf.eh.e_type == ET_DYN) {
    const uint64_t first = PageRoundDown(elf.loads.front()->p_vaddr);
    const Elf64_Phdr* last = elf.loads.back();
    const uint64_t span = PageRoundUp(last->p_vaddr + last->p_memsz) - first;
    MmapRequest probe;
    probe.length = span;
    probe.prot = PROT_NONE;
    const UserAddr base = TRY(mm.MMap(probe));
    // Only the segments stay mapped; holes between them do not (as Linux
    // unmaps the rest of its total_mapping_size reservation).
    TRY_VOID(mm.MUnmap(base, span));
    bias = base.value() - first;
  }
  TRY(MapImage(source, elf, bias, name, mm));
  return bias;
}

struct ImageInfo {
  uint64_t entry;  // AT_ENTRY: the program's entry, not the interpreter's.
  uint64_t phdr;
  uint64_t phnum;
  uint64_t base;   // AT_BASE: the interpreter's load address, or 0.
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
  aux(AT_BASE, image.base);
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
  ElfFile elf;
  TRY_VOID(ReadElf(source, &elf));
  LoadResult result;
  result.interpreter = elf.interpreter;
  std::unique_ptr<ExecutableSource> interp_source;
  ElfFile interp;
  if (!elf.interpreter.empty()) {
    if (interpreter != nullptr) *interpreter = elf.interpreter;
    if (!request.open_interpreter) return Errno{ENOEXEC};
    interp_source = TRY(request.open_interpreter(elf.interpreter));
    // binfmt_elf: an interpreter that is not a loadable ELF for this
    // machine is ELIBBAD. Its own PT_INTERP, if any, is ignored.
    if (!ReadElf(*interp_source, &interp).ok()) return Errno{ELIBBAD};
  }

  // ET_DYN goes to ELF_ET_DYN_BASE, with or without an interpreter.
  const uint64_t bias =
      elf.eh.e_type == ET_DYN ? layout::kPieBase - PageRoundDown(elf.loads.front()->p_vaddr)
                              : 0;
  const uint64_t highest = TRY(MapImage(source, elf, bias, request.filename, mm));
  const uint64_t phdr_addr = PhdrAddress(elf, bias);
  result.program_entry = bias + elf.eh.e_entry;
  result.entry = result.program_entry;
  result.brk_start = PageRoundUp(highest);
  mm.SetBrkStart(UserAddr(result.brk_start));

  MmapRequest stack;
  stack.addr = UserAddr(layout::kStackTop - kStackSize);
  stack.length = kStackSize;
  stack.prot = elf.stack_prot;
  stack.fixed_noreplace = true;
  stack.grows_down = true;
  stack.name = "[stack]";
  TRY(mm.MMap(stack));

  if (interp_source != nullptr) {
    result.interp_base = TRY(LoadInterpreter(*interp_source, interp, elf.interpreter, mm));
    result.entry = result.interp_base + interp.eh.e_entry;
  }
  result.stack_pointer = TRY(BuildStack(
      request,
      ImageInfo{result.program_entry, phdr_addr, elf.eh.e_phnum, result.interp_base},
      layout::kStackTop, mm));
  return result;
}

}  // namespace moat
