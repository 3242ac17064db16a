//! Guest-mode entry code, the counterpart of `entry` for the sentry at ring 0: a trap from an
//! application saves its registers in the per-CPU page, puts the sentry's FS base, GS base,
//! CR3 and stack back, and jumps to where the sentry's switch left off — no VM exit. A
//! `syscall` or an exception from the sentry itself halts, which is how guest mode leaves for
//! the host.
//!
//! GS holds the per-CPU page whenever ring-0 code runs: the sentry's GS base and
//! KERNEL_GS_BASE are both the per-CPU page in guest mode, so the one `swapgs` on entry yields
//! it whichever ring the trap came from.

use super::layout::guest::*;

/// Offsets in `abi::x86_64::UserRegs` (Linux's `user_regs_struct`).
pub mod regs {
    pub const R15: u64 = 0;
    pub const R14: u64 = 8;
    pub const R13: u64 = 16;
    pub const R12: u64 = 24;
    pub const RBP: u64 = 32;
    pub const RBX: u64 = 40;
    pub const R11: u64 = 48;
    pub const R10: u64 = 56;
    pub const R9: u64 = 64;
    pub const R8: u64 = 72;
    pub const RAX: u64 = 80;
    pub const RCX: u64 = 88;
    pub const RDX: u64 = 96;
    pub const RSI: u64 = 104;
    pub const RDI: u64 = 112;
    pub const RIP: u64 = 128;
    pub const EFLAGS: u64 = 144;
    pub const RSP: u64 = 152;
    pub const FS_BASE: u64 = 168;
    pub const GS_BASE: u64 = 176;
}

core::arch::global_asm!(
    // The application's general registers into the per-CPU save block (GS is the per-CPU
    // page by then).
    ".macro ringfence_save_gprs",
    "mov gs:[{save} + {r_rax}], rax",
    "mov gs:[{save} + {r_rbx}], rbx",
    "mov gs:[{save} + {r_rcx}], rcx",
    "mov gs:[{save} + {r_rdx}], rdx",
    "mov gs:[{save} + {r_rsi}], rsi",
    "mov gs:[{save} + {r_rdi}], rdi",
    "mov gs:[{save} + {r_rbp}], rbp",
    "mov gs:[{save} + {r_r8}], r8",
    "mov gs:[{save} + {r_r9}], r9",
    "mov gs:[{save} + {r_r10}], r10",
    "mov gs:[{save} + {r_r11}], r11",
    "mov gs:[{save} + {r_r12}], r12",
    "mov gs:[{save} + {r_r13}], r13",
    "mov gs:[{save} + {r_r14}], r14",
    "mov gs:[{save} + {r_r15}], r15",
    ".endm",
    ".pushsection .text.ringfence_guest_entry, \"ax\"",
    ".balign 4096",
    ".globl ringfence_guest_code",
    "ringfence_guest_code:",
    // Vector stubs: a uniform frame [vector, error code, rip, cs, rflags, rsp, ss].
    ".irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31",
    ".balign 16",
    ".if (\\v == 8) || (\\v == 10) || (\\v == 11) || (\\v == 12) || (\\v == 13) || (\\v == 14) || (\\v == 17) || (\\v == 21) || (\\v == 29) || (\\v == 30)",
    ".else",
    "push 0",
    ".endif",
    "push \\v",
    "jmp .Lguest_exception",
    ".endr",
    // LSTAR in guest mode.
    ".balign 16",
    ".globl ringfence_guest_syscall",
    "ringfence_guest_syscall:",
    "swapgs",
    "cmp qword ptr gs:[{in_user}], 0",
    "je ringfence_guest_kernel_syscall",
    "mov gs:[{save} + {r_rsp}], rsp",
    "mov rsp, gs:[{stack_top}]",
    "ringfence_save_gprs",
    "mov gs:[{save} + {r_rip}], rcx",
    "mov gs:[{save} + {r_eflags}], r11",
    "mov eax, {trap_syscall}",
    "jmp .Lguest_to_sentry",
    // A `syscall` by the sentry: a host call, done by the host.
    ".globl ringfence_guest_kernel_syscall",
    "ringfence_guest_kernel_syscall:",
    "hlt",
    "jmp ringfence_guest_kernel_syscall",
    // RAX = the application's CR3; [RSP] = its RAX, then its iret frame.
    ".balign 16",
    ".globl ringfence_guest_resume",
    "ringfence_guest_resume:",
    "mov cr3, rax",
    "pop rax",
    "iretq",
    ".Lguest_exception:",
    "test byte ptr [rsp + 24], 3",
    "jz ringfence_guest_kernel_fault",
    "swapgs",
    "ringfence_save_gprs",
    "mov rax, [rsp]",
    "mov gs:[{vector}], rax",
    "mov rax, [rsp + 8]",
    "mov gs:[{code}], rax",
    "mov rax, cr2",
    "mov gs:[{cr2}], rax",
    "mov rax, [rsp + 16]",
    "mov gs:[{save} + {r_rip}], rax",
    "mov rax, [rsp + 32]",
    "mov gs:[{save} + {r_eflags}], rax",
    "mov rax, [rsp + 40]",
    "mov gs:[{save} + {r_rsp}], rax",
    "mov eax, {trap_exception}",
    "jmp .Lguest_to_sentry",
    // An exception in the sentry: the host retries the instruction.
    ".globl ringfence_guest_kernel_fault",
    "ringfence_guest_kernel_fault:",
    "hlt",
    "jmp ringfence_guest_kernel_fault",
    // RAX = what happened; the application's registers are saved.
    ".Lguest_to_sentry:",
    "mov gs:[{scratch}], rax",
    "mov qword ptr gs:[{in_user}], 0",
    "mov ecx, 0xc0000100",
    "rdmsr",
    "shl rdx, 32",
    "or rax, rdx",
    "mov gs:[{save} + {r_fs}], rax",
    "mov rax, gs:[{sentry_fs}]",
    "mov rdx, rax",
    "shr rdx, 32",
    "wrmsr",
    "mov ecx, 0xc0000102",
    "rdmsr",
    "shl rdx, 32",
    "or rax, rdx",
    "mov gs:[{save} + {r_gs}], rax",
    "mov rax, gs:[{self_}]",
    "mov rdx, rax",
    "shr rdx, 32",
    "wrmsr",
    "mov rax, gs:[{sentry_cr3}]",
    "mov cr3, rax",
    "mov rsp, gs:[{sentry_rsp}]",
    "mov rax, gs:[{scratch}]",
    "jmp qword ptr gs:[{ret}]",
    ".balign 4096",
    ".globl ringfence_guest_code_end",
    "ringfence_guest_code_end:",
    ".popsection",
    in_user = const IN_USER,
    save = const SAVE,
    stack_top = const STACK_TOP,
    scratch = const SCRATCH,
    sentry_fs = const SENTRY_FS,
    sentry_cr3 = const SENTRY_CR3,
    sentry_rsp = const SENTRY_RSP,
    self_ = const SELF,
    ret = const RETURN,
    vector = const VECTOR,
    code = const CODE,
    cr2 = const CR2,
    trap_syscall = const TRAP_SYSCALL,
    trap_exception = const TRAP_EXCEPTION,
    r_rsp = const regs::RSP,
    r_rax = const regs::RAX,
    r_rbx = const regs::RBX,
    r_rcx = const regs::RCX,
    r_rdx = const regs::RDX,
    r_rsi = const regs::RSI,
    r_rdi = const regs::RDI,
    r_rbp = const regs::RBP,
    r_r8 = const regs::R8,
    r_r9 = const regs::R9,
    r_r10 = const regs::R10,
    r_r11 = const regs::R11,
    r_r12 = const regs::R12,
    r_r13 = const regs::R13,
    r_r14 = const regs::R14,
    r_r15 = const regs::R15,
    r_rip = const regs::RIP,
    r_eflags = const regs::EFLAGS,
    r_fs = const regs::FS_BASE,
    r_gs = const regs::GS_BASE,
);

unsafe extern "C" {
    safe static ringfence_guest_code: u8;
    safe static ringfence_guest_code_end: u8;
    #[cfg(test)]
    safe static ringfence_guest_syscall: u8;
    safe static ringfence_guest_kernel_syscall: u8;
    safe static ringfence_guest_kernel_fault: u8;
    safe static ringfence_guest_resume: u8;
}

fn offset(sym: &'static u8) -> u64 {
    (core::ptr::from_ref(sym) as usize - core::ptr::from_ref(&ringfence_guest_code) as usize) as u64
}

/// The guest-mode code page.
pub fn code_page() -> &'static [u8] {
    let start = core::ptr::from_ref(&ringfence_guest_code);
    let len = core::ptr::from_ref(&ringfence_guest_code_end) as usize - start as usize;
    // SAFETY: both symbols delimit one assembled block of this binary's text, which lives for
    // the whole program.
    unsafe { core::slice::from_raw_parts(start, len) }
}

/// Offsets in the page: where a host call by the sentry halts, where a fault of the sentry
/// halts (frame at RSP: vector, code, rip, cs, rflags, rsp, ss), and the resume stub.
pub fn kernel_syscall_offset() -> u64 {
    offset(&ringfence_guest_kernel_syscall)
}

pub fn kernel_fault_offset() -> u64 {
    offset(&ringfence_guest_kernel_fault)
}

pub fn resume_offset() -> u64 {
    offset(&ringfence_guest_resume)
}

#[cfg(test)]
mod tests {
    use super::super::layout::{GUEST_SYSCALL_OFFSET, VECTOR_STUB_STRIDE, VECTOR_STUBS};
    use super::*;

    #[test]
    fn layout_matches_the_assembly() {
        assert_eq!(code_page().len(), 4096);
        assert_eq!(offset(&ringfence_guest_syscall), GUEST_SYSCALL_OFFSET);
        assert_eq!(VECTOR_STUBS * VECTOR_STUB_STRIDE, GUEST_SYSCALL_OFFSET);
        let code = code_page();
        // Vector 0: push 0; push 0; vector 14 (error code from the CPU): push 14.
        assert_eq!(&code[0..4], &[0x6a, 0x00, 0x6a, 0x00]);
        assert_eq!(&code[14 * 16..14 * 16 + 2], &[0x6a, 14]);
        let r = resume_offset() as usize;
        assert_eq!(&code[r..r + 6], &[0x0f, 0x22, 0xd8, 0x58, 0x48, 0xcf]);
        assert_eq!(code[kernel_fault_offset() as usize], 0xf4);
        assert_eq!(code[kernel_syscall_offset() as usize], 0xf4);
    }
}
