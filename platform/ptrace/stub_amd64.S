// The ptrace platform's stub: position-independent x86-64 machine code that
// runs inside stub processes. It uses no stack and no memory other than its
// own page, and makes raw syscalls only. It must never run application code
// and never reach host memory other than its own pages: everything else is
// unmapped before the sentry attaches.
//
// Two parts:
//  - moat_ptrace_stub_install runs from the sentry binary's text in a freshly
//    forked stub child: it maps the stub pages at MOAT_STUB_BASE, copies the
//    image there and jumps into it. It touches no stack after the mmap,
//    because MAP_FIXED may have replaced the host stack if it happened to lie
//    in the reserved region.
//  - [moat_ptrace_stub_begin, moat_ptrace_stub_end) is the image that runs
//    at MOAT_STUB_BASE. The C++ side derives addresses of the sites below from
//    their offsets in the image.
#include <asm/unistd_64.h>

#include "platform/ptrace/stub_layout.h"

        .text

// [[noreturn]] void moat_ptrace_stub_install(const void* image, size_t len)
// Precondition: len <= MOAT_STUB_CODE_SIZE.
        .globl  moat_ptrace_stub_install
        .type   moat_ptrace_stub_install, @function
moat_ptrace_stub_install:
        mov     %rdi, %r12
        mov     %rsi, %r13
        mov     $__NR_mmap, %eax
        movabs  $MOAT_STUB_BASE, %rdi
        mov     $MOAT_STUB_MAP_SIZE, %esi
        mov     $MOAT_STUB_PROT_RW, %edx
        mov     $MOAT_STUB_MAP_PRIVATE_ANON_FIXED, %r10d
        mov     $-1, %r8
        xor     %r9d, %r9d
        syscall
        cmp     %rdi, %rax
        jne     .Linstall_fail
        mov     %r12, %rsi
        mov     %rax, %rdi
        mov     %r13, %rcx
        cld
        rep movsb
        mov     $__NR_mprotect, %eax
        movabs  $MOAT_STUB_BASE, %rdi
        mov     $MOAT_STUB_CODE_SIZE, %esi
        mov     $MOAT_STUB_PROT_RX, %edx
        syscall
        test    %rax, %rax
        jnz     .Linstall_fail
        movabs  $MOAT_STUB_BASE, %rax
        jmp     *%rax
.Linstall_fail:
        mov     $__NR_exit_group, %eax
        mov     $MOAT_STUB_FAIL_EXIT, %edi
        syscall
        ud2
        .size   moat_ptrace_stub_install, .-moat_ptrace_stub_install

// The image. Offset 0 is the entry point.
        .globl  moat_ptrace_stub_begin
moat_ptrace_stub_begin:
        // Unmap everything below the stub: the sentry's copy-on-write image,
        // heap, libraries. munmap(2) accepts ranges with holes.
        mov     $__NR_munmap, %eax
        xor     %edi, %edi
        movabs  $MOAT_STUB_BASE, %rsi
        syscall
        test    %rax, %rax
        jnz     .Lstub_fail
        // And everything above the stub pages up to TASK_SIZE: the host
        // stack, vdso and vvar live there.
        mov     $__NR_munmap, %eax
        movabs  $(MOAT_STUB_BASE + MOAT_STUB_MAP_SIZE), %rdi
        movabs  $(MOAT_STUB_TASK_SIZE - MOAT_STUB_BASE - MOAT_STUB_MAP_SIZE), %rsi
        syscall
        test    %rax, %rax
        jnz     .Lstub_fail
        // kill(getpid(), SIGSTOP): wait, stopped, for the sentry to attach.
        mov     $__NR_getpid, %eax
        syscall
        mov     %rax, %rdi
        mov     $MOAT_STUB_SIGSTOP, %esi
        mov     $__NR_kill, %eax
        syscall
        // The control thread parks here between injected syscalls. Should it
        // ever run untraced, it only sleeps.
.Lcontrol_loop:
        mov     $__NR_pause, %eax
        syscall
        jmp     .Lcontrol_loop
.Lstub_fail:
        mov     $__NR_exit_group, %eax
        mov     $MOAT_STUB_FAIL_EXIT, %edi
        syscall
        ud2

        // Syscall injection: the tracer points rip here with the request in
        // rax/rdi/..., resumes with PTRACE_CONT and regains control at the
        // int3's SIGTRAP with the result in rax.
        .globl  moat_ptrace_stub_syscall_site
moat_ptrace_stub_syscall_site:
        syscall
        int3
        jmp     .Lcontrol_loop

        // clone(2) injection: like the syscall site, except the new thread
        // (rax == 0) must not hit the int3, since nobody traces it yet and an
        // untraced SIGTRAP would kill the process. It sleeps in pause() until
        // its tracer seizes and interrupts it.
        .globl  moat_ptrace_stub_clone_site
moat_ptrace_stub_clone_site:
        syscall
        test    %rax, %rax
        jz      .Lthread_loop
        int3
        jmp     .Lcontrol_loop
.Lthread_loop:
        mov     $__NR_pause, %eax
        syscall
        jmp     .Lthread_loop

        .globl  moat_ptrace_stub_end
moat_ptrace_stub_end:

        .section .note.GNU-stack, "", @progbits
