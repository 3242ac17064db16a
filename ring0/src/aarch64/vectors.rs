//! The EL1 vector table and entry code, assembled into the sentry binary and copied by the
//! platform into the guest's code page (so position independent: the exit page is reached
//! PC-relative, the frame through SP_EL1).
//!
//! Exit-per-trap: every exception from EL0 saves the application's whole state (general,
//! system and FP/SIMD registers, syndrome, fault address) into the vCPU's frame, then writes
//! to the exit page, which no memory slot backs: one MMIO exit. The host reads the frame from
//! its own memory, writes the state to resume with, and runs the vCPU again; KVM resumes it
//! after the write, in the resume code, which loads the frame (and the application's TTBR0,
//! flushing its ASID when asked) and `eret`s to EL0. No register travels through KVM's
//! register ioctls on this path.

use super::layout::frame;

core::arch::global_asm!(
    ".pushsection .text.ringfence_a64_entry, \"ax\"",
    ".macro rf_vector kind",
    ".balign 0x80",
    "stp x0, x1, [sp, #{x}]",
    "mov x0, #\\kind",
    "b .Lringfence_a64_save",
    ".endm",
    ".balign 4096",
    ".globl ringfence_a64_code",
    "ringfence_a64_code:",
    "rf_vector 0",
    "rf_vector 1",
    "rf_vector 2",
    "rf_vector 3",
    "rf_vector 4",
    "rf_vector 5",
    "rf_vector 6",
    "rf_vector 7",
    "rf_vector 8",
    "rf_vector 9",
    "rf_vector 10",
    "rf_vector 11",
    "rf_vector 12",
    "rf_vector 13",
    "rf_vector 14",
    "rf_vector 15",
    ".Lringfence_a64_save:",
    "str x0, [sp, #{kind}]",
    "stp x2, x3, [sp, #16]",
    "stp x4, x5, [sp, #32]",
    "stp x6, x7, [sp, #48]",
    "stp x8, x9, [sp, #64]",
    "stp x10, x11, [sp, #80]",
    "stp x12, x13, [sp, #96]",
    "stp x14, x15, [sp, #112]",
    "stp x16, x17, [sp, #128]",
    "stp x18, x19, [sp, #144]",
    "stp x20, x21, [sp, #160]",
    "stp x22, x23, [sp, #176]",
    "stp x24, x25, [sp, #192]",
    "stp x26, x27, [sp, #208]",
    "stp x28, x29, [sp, #224]",
    "str x30, [sp, #240]",
    "mrs x0, sp_el0",
    "mrs x1, elr_el1",
    "stp x0, x1, [sp, #{sp_el0}]",
    "mrs x0, spsr_el1",
    "mrs x1, tpidr_el0",
    "stp x0, x1, [sp, #{spsr}]",
    "mrs x0, esr_el1",
    "mrs x1, far_el1",
    "stp x0, x1, [sp, #{esr}]",
    "mrs x0, fpsr",
    "mrs x1, fpcr",
    "stp x0, x1, [sp, #{fpsr}]",
    "stp q0, q1, [sp, #{v} + 0]",
    "stp q2, q3, [sp, #{v} + 32]",
    "stp q4, q5, [sp, #{v} + 64]",
    "stp q6, q7, [sp, #{v} + 96]",
    "stp q8, q9, [sp, #{v} + 128]",
    "stp q10, q11, [sp, #{v} + 160]",
    "stp q12, q13, [sp, #{v} + 192]",
    "stp q14, q15, [sp, #{v} + 224]",
    "stp q16, q17, [sp, #{v} + 256]",
    "stp q18, q19, [sp, #{v} + 288]",
    "stp q20, q21, [sp, #{v} + 320]",
    "stp q22, q23, [sp, #{v} + 352]",
    "stp q24, q25, [sp, #{v} + 384]",
    "stp q26, q27, [sp, #{v} + 416]",
    "stp q28, q29, [sp, #{v} + 448]",
    "stp q30, q31, [sp, #{v} + 480]",
    "adr x0, ringfence_a64_code_end",
    "str xzr, [x0]",
    ".globl ringfence_a64_resume",
    "ringfence_a64_resume:",
    "ldp q0, q1, [sp, #{v} + 0]",
    "ldp q2, q3, [sp, #{v} + 32]",
    "ldp q4, q5, [sp, #{v} + 64]",
    "ldp q6, q7, [sp, #{v} + 96]",
    "ldp q8, q9, [sp, #{v} + 128]",
    "ldp q10, q11, [sp, #{v} + 160]",
    "ldp q12, q13, [sp, #{v} + 192]",
    "ldp q14, q15, [sp, #{v} + 224]",
    "ldp q16, q17, [sp, #{v} + 256]",
    "ldp q18, q19, [sp, #{v} + 288]",
    "ldp q20, q21, [sp, #{v} + 320]",
    "ldp q22, q23, [sp, #{v} + 352]",
    "ldp q24, q25, [sp, #{v} + 384]",
    "ldp q26, q27, [sp, #{v} + 416]",
    "ldp q28, q29, [sp, #{v} + 448]",
    "ldp q30, q31, [sp, #{v} + 480]",
    "ldp x0, x1, [sp, #{fpsr}]",
    "msr fpsr, x0",
    "msr fpcr, x1",
    "ldp x0, x1, [sp, #{ttbr0}]",
    "msr ttbr0_el1, x0",
    "isb",
    "cbz x1, 1f",
    "tlbi aside1, x0",
    "dsb nsh",
    "isb",
    "1:",
    "ldp x0, x1, [sp, #{sp_el0}]",
    "msr sp_el0, x0",
    "msr elr_el1, x1",
    "ldp x0, x1, [sp, #{spsr}]",
    "msr spsr_el1, x0",
    "msr tpidr_el0, x1",
    "ldp x2, x3, [sp, #16]",
    "ldp x4, x5, [sp, #32]",
    "ldp x6, x7, [sp, #48]",
    "ldp x8, x9, [sp, #64]",
    "ldp x10, x11, [sp, #80]",
    "ldp x12, x13, [sp, #96]",
    "ldp x14, x15, [sp, #112]",
    "ldp x16, x17, [sp, #128]",
    "ldp x18, x19, [sp, #144]",
    "ldp x20, x21, [sp, #160]",
    "ldp x22, x23, [sp, #176]",
    "ldp x24, x25, [sp, #192]",
    "ldp x26, x27, [sp, #208]",
    "ldp x28, x29, [sp, #224]",
    "ldr x30, [sp, #240]",
    "ldp x0, x1, [sp, #{x}]",
    ".globl ringfence_a64_eret",
    "ringfence_a64_eret:",
    "eret",
    ".balign 4096",
    ".globl ringfence_a64_code_end",
    "ringfence_a64_code_end:",
    ".popsection",
    x = const frame::X,
    kind = const frame::KIND,
    sp_el0 = const frame::SP_EL0,
    spsr = const frame::SPSR,
    esr = const frame::ESR,
    fpsr = const frame::FPSR,
    ttbr0 = const frame::TTBR0,
    v = const frame::V,
);

// The pairs stored with one `stp` must be adjacent in the frame.
const _: () = assert!(frame::ELR == frame::SP_EL0 + 8 && frame::TPIDR == frame::SPSR + 8);
const _: () = assert!(frame::FAR == frame::ESR + 8 && frame::FPCR == frame::FPSR + 8);
const _: () = assert!(frame::FLUSH == frame::TTBR0 + 8 && frame::X == 0);

unsafe extern "C" {
    safe static ringfence_a64_code: u8;
    safe static ringfence_a64_resume: u8;
    safe static ringfence_a64_eret: u8;
    safe static ringfence_a64_code_end: u8;
}

fn addr(sym: &'static u8) -> usize {
    core::ptr::from_ref(sym) as usize
}

/// The code page: the vector table (VBAR_EL1 = its start), the save path and the resume
/// code.
pub fn code_page() -> &'static [u8] {
    let start = &ringfence_a64_code;
    let len = addr(&ringfence_a64_code_end) - addr(start);
    // SAFETY: both symbols delimit one assembled, read-only block of this binary's text
    // (`end` follows `start` in the same section), which lives for the whole program.
    unsafe { core::slice::from_raw_parts(core::ptr::from_ref(start), len) }
}

/// Offset in the code page of the resume code, where a vCPU starts (and where it is after
/// each exit).
pub fn resume_offset() -> u64 {
    (addr(&ringfence_a64_resume) - addr(&ringfence_a64_code)) as u64
}

/// Offset of the `eret` that ends the resume code.
pub fn eret_offset() -> u64 {
    (addr(&ringfence_a64_eret) - addr(&ringfence_a64_code)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_page_with_the_vectors_first() {
        assert_eq!(code_page().len(), 4096);
        assert!(resume_offset() > 16 * 0x80 && eret_offset() > resume_offset());
        // Each vector entry starts by saving x0 and x1 to the frame: `stp x0, x1, [sp]`.
        for k in 0..16 {
            let word = u32::from_le_bytes(code_page()[k * 0x80..][..4].try_into().unwrap());
            assert_eq!(word, 0xa900_07e0, "vector {k}");
        }
        let eret = &code_page()[eret_offset() as usize..][..4];
        assert_eq!(u32::from_le_bytes(eret.try_into().unwrap()), 0xd69f_03e0);
    }
}
