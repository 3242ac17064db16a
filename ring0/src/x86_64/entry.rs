//! The entry stubs, assembled into the sentry binary and copied by the platform into the
//! guest's entry area (so they must be position independent).
//!
//! In the exit-per-trap mode every stub ends in `hlt`: the host sees the exit, reads from the
//! halted RIP which stub it was (so which vector), and from RSP the frame the CPU pushed.
//! Resuming the application goes through the resume stub, which loads the application's CR3
//! and `iretq`s to ring 3. The software backend's user trampoline leaves by writing to the
//! page after it, which no memory slot backs.

use super::layout::{RESUME_STUB_OFFSET, SYSCALL_STUB_OFFSET, VECTOR_STUB_STRIDE, VECTOR_STUBS};

core::arch::global_asm!(
    ".pushsection .text.ringfence_entry, \"ax\"",
    ".balign 4096",
    ".globl ringfence_ring0_code",
    "ringfence_ring0_code:",
    // Exception vectors 0..32, one 16-byte slot each.
    ".rept 32",
    ".balign 16",
    "hlt",
    "ud2",
    ".endr",
    // LSTAR on the hardware backend: a ring-3 `syscall` lands here at ring 0.
    ".balign 16",
    ".globl ringfence_ring0_syscall",
    "ringfence_ring0_syscall:",
    "hlt",
    "ud2",
    // RAX = the application's CR3 value; [RSP] = the application's RAX, then an iret frame.
    ".balign 16",
    ".globl ringfence_ring0_resume",
    "ringfence_ring0_resume:",
    "mov cr3, rax",
    "pop rax",
    "iretq",
    ".balign 4096",
    ".globl ringfence_ring0_code_end",
    "ringfence_ring0_code_end:",
    // LSTAR on the software backend, where `syscall` stays at ring 3: a user page whose
    // only instruction writes to the exit page right after it.
    ".globl ringfence_user_trampoline",
    "ringfence_user_trampoline:",
    ".Lringfence_user_trampoline:",
    "mov byte ptr [rip + .Lringfence_user_trampoline + 4096], 0",
    ".globl ringfence_user_trampoline_exit",
    "ringfence_user_trampoline_exit:",
    "ud2",
    ".balign 4096",
    ".globl ringfence_user_trampoline_end",
    "ringfence_user_trampoline_end:",
    ".popsection",
);

unsafe extern "C" {
    safe static ringfence_ring0_code: u8;
    #[cfg(test)]
    safe static ringfence_ring0_syscall: u8;
    #[cfg(test)]
    safe static ringfence_ring0_resume: u8;
    safe static ringfence_ring0_code_end: u8;
    safe static ringfence_user_trampoline: u8;
    safe static ringfence_user_trampoline_exit: u8;
    safe static ringfence_user_trampoline_end: u8;
}

fn addr(sym: &'static u8) -> usize {
    core::ptr::from_ref(sym) as usize
}

fn page(start: &'static u8, end: &'static u8) -> &'static [u8] {
    let len = addr(end) - addr(start);
    // SAFETY: both symbols delimit one assembled, read-only block of this binary's text
    // (`end` follows `start` in the same section), which lives for the whole program.
    unsafe { core::slice::from_raw_parts(core::ptr::from_ref(start), len) }
}

/// The ring-0 code page: exception stubs, the syscall stub and the resume stub.
pub fn code_page() -> &'static [u8] {
    page(&ringfence_ring0_code, &ringfence_ring0_code_end)
}

/// The user trampoline page (software backend).
pub fn trampoline_page() -> &'static [u8] {
    page(&ringfence_user_trampoline, &ringfence_user_trampoline_end)
}

/// Offset, in the trampoline page, of the instruction after the exit write: where RIP is
/// when the write has completed.
pub fn trampoline_exit_offset() -> u64 {
    (addr(&ringfence_user_trampoline_exit) - addr(&ringfence_user_trampoline)) as u64
}

/// Which stub an exit at code-page offset `offset` came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stub {
    Vector(u8),
    Syscall,
    Resume,
}

/// The stub that contains code-page offset `offset`, if any.
pub fn stub_at(offset: u64) -> Option<Stub> {
    if offset < SYSCALL_STUB_OFFSET {
        Some(Stub::Vector((offset / VECTOR_STUB_STRIDE) as u8))
    } else if offset < RESUME_STUB_OFFSET {
        Some(Stub::Syscall)
    } else if offset < RESUME_STUB_OFFSET + 16 {
        Some(Stub::Resume)
    } else {
        None
    }
}

const _: () = assert!(VECTOR_STUBS * VECTOR_STUB_STRIDE == SYSCALL_STUB_OFFSET);

#[cfg(test)]
mod tests {
    use super::*;

    const HLT: u8 = 0xf4;

    #[test]
    fn layout_matches_the_assembly() {
        let code = code_page();
        assert_eq!(code.len(), 4096);
        let base = addr(&ringfence_ring0_code);
        assert_eq!(
            addr(&ringfence_ring0_syscall) - base,
            SYSCALL_STUB_OFFSET as usize
        );
        assert_eq!(
            addr(&ringfence_ring0_resume) - base,
            RESUME_STUB_OFFSET as usize
        );
        for v in 0..VECTOR_STUBS {
            assert_eq!(code[(v * VECTOR_STUB_STRIDE) as usize], HLT, "vector {v}");
        }
        assert_eq!(code[SYSCALL_STUB_OFFSET as usize], HLT);
        // mov cr3, rax; pop rax; iretq
        let r = RESUME_STUB_OFFSET as usize;
        assert_eq!(&code[r..r + 6], &[0x0f, 0x22, 0xd8, 0x58, 0x48, 0xcf]);
    }

    #[test]
    fn trampoline_writes_the_next_page() {
        let t = trampoline_page();
        assert_eq!(t.len(), 4096);
        let exit = trampoline_exit_offset() as usize;
        // movb $0, disp32(%rip): C6 05 disp32 00, and the target is the next page.
        assert_eq!(&t[..2], &[0xc6, 0x05]);
        let disp = i32::from_le_bytes([t[2], t[3], t[4], t[5]]) as i64;
        assert_eq!(exit as i64 + disp, 4096);
    }

    #[test]
    fn stubs_are_found_by_offset() {
        assert_eq!(stub_at(14 * 16 + 1), Some(Stub::Vector(14)));
        assert_eq!(stub_at(SYSCALL_STUB_OFFSET + 1), Some(Stub::Syscall));
        assert_eq!(stub_at(RESUME_STUB_OFFSET + 5), Some(Stub::Resume));
        assert_eq!(stub_at(0x800), None);
    }
}
