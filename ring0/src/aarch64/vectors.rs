//! The EL1 vector table and entry code, assembled into the sentry binary and copied by the
//! platform into the guest's code page (so position independent: the exit page is reached
//! PC-relative, the frame through SP_EL1 or TPIDR_EL1, which both hold its address).
//!
//! Exit-per-trap: every exception from EL0 saves the application's whole state (general,
//! system and FP/SIMD registers, syndrome, fault address) into the vCPU's frame, then writes
//! to the exit page, which no memory slot backs: one MMIO exit. The host reads the frame from
//! its own memory, writes the state to resume with, and runs the vCPU again; KVM resumes it
//! after the write, where the frame's ENTER field picks the way back: to the application
//! (the resume code loads the frame, the application's TTBR0, flushing its ASID when asked,
//! and `eret`s to EL0), or, in guest mode, into the sentry at EL1.
//!
//! Guest mode: the sentry itself runs at EL1 on its own TTBR0 table. Its switch to the
//! application (`guest_switch`, called at this page's address) keeps the sentry's callee-saved
//! state in the frame and enters the application through the same resume code; the
//! application's next exception comes back through the same save code, which (MODE set)
//! returns from the switch instead of exiting. The sentry's own exceptions (host calls,
//! faults on memory its table lacks) save its whole state into the frame's EL1 area (apart
//! from the application's, which an exception between writing it and the switch must not
//! clobber) and exit, so the host can map and resume, or carry on with that state natively.

use super::layout::{frame, kind};

core::arch::global_asm!(
    ".pushsection .text.ringfence_a64_entry, \"ax\"",
    // An exception from EL0: SP_EL1 is the frame.
    ".macro rf_vector kind",
    ".balign 0x80",
    "stp x0, x1, [sp, #{x}]",
    "mov x0, #\\kind",
    "b .Lringfence_a64_save",
    ".endm",
    // An exception from EL1 (the sentry in guest mode, on its own stack): SP_EL0 is free
    // at EL1 and serves as scratch; TPIDR_EL1 is the frame.
    ".macro rf_el1_vector kind",
    ".balign 0x80",
    "msr sp_el0, x0",
    "mrs x0, tpidr_el1",
    "add x0, x0, #{el1}",
    "str x1, [x0, #{x} + 8]",
    "mrs x1, sp_el0",
    "str x1, [x0, #{x}]",
    "mov x1, #\\kind",
    "b .Lringfence_a64_el1_save",
    ".endm",
    ".balign 4096",
    ".globl ringfence_a64_code",
    "ringfence_a64_code:",
    "rf_el1_vector 0",
    "rf_el1_vector 1",
    "rf_el1_vector 2",
    "rf_el1_vector 3",
    "rf_el1_vector 4",
    "rf_el1_vector 5",
    "rf_el1_vector 6",
    "rf_el1_vector 7",
    "rf_vector 8",
    "rf_vector 9",
    "rf_vector 10",
    "rf_vector 11",
    "rf_vector 12",
    "rf_vector 13",
    "rf_vector 14",
    "rf_vector 15",
    // The sentry's exception: its whole state into the frame's EL1 area (laid out as the
    // application's, SP in the SP_EL0 slot), then exit. x0 is that area.
    ".Lringfence_a64_el1_save:",
    "str x1, [x0, #{kind}]",
    "stp x2, x3, [x0, #16]",
    "stp x4, x5, [x0, #32]",
    "stp x6, x7, [x0, #48]",
    "stp x8, x9, [x0, #64]",
    "stp x10, x11, [x0, #80]",
    "stp x12, x13, [x0, #96]",
    "stp x14, x15, [x0, #112]",
    "stp x16, x17, [x0, #128]",
    "stp x18, x19, [x0, #144]",
    "stp x20, x21, [x0, #160]",
    "stp x22, x23, [x0, #176]",
    "stp x24, x25, [x0, #192]",
    "stp x26, x27, [x0, #208]",
    "stp x28, x29, [x0, #224]",
    "str x30, [x0, #240]",
    "mov x1, sp",
    "mrs x2, elr_el1",
    "stp x1, x2, [x0, #{sp_el0}]",
    "mrs x1, spsr_el1",
    "mrs x2, tpidr_el0",
    "stp x1, x2, [x0, #{spsr}]",
    "mrs x1, esr_el1",
    "mrs x2, far_el1",
    "stp x1, x2, [x0, #{esr}]",
    "mrs x1, fpsr",
    "mrs x2, fpcr",
    "stp x1, x2, [x0, #{fpsr}]",
    "stp q0, q1, [x0, #{v} + 0]",
    "stp q2, q3, [x0, #{v} + 32]",
    "stp q4, q5, [x0, #{v} + 64]",
    "stp q6, q7, [x0, #{v} + 96]",
    "stp q8, q9, [x0, #{v} + 128]",
    "stp q10, q11, [x0, #{v} + 160]",
    "stp q12, q13, [x0, #{v} + 192]",
    "stp q14, q15, [x0, #{v} + 224]",
    "stp q16, q17, [x0, #{v} + 256]",
    "stp q18, q19, [x0, #{v} + 288]",
    "stp q20, q21, [x0, #{v} + 320]",
    "stp q22, q23, [x0, #{v} + 352]",
    "stp q24, q25, [x0, #{v} + 384]",
    "stp q26, q27, [x0, #{v} + 416]",
    "stp q28, q29, [x0, #{v} + 448]",
    "stp q30, q31, [x0, #{v} + 480]",
    "sub sp, x0, #{el1}",
    "b .Lringfence_a64_exit",
    // The application's exception: its whole state into the frame.
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
    "ldr x0, [sp, #{mode}]",
    "cbnz x0, .Lringfence_a64_guest_return",
    ".Lringfence_a64_exit:",
    "adr x0, ringfence_a64_code_end",
    "str xzr, [x0]",
    // After an exit (and where a vCPU starts): SP_EL1 is the frame.
    ".globl ringfence_a64_dispatch",
    "ringfence_a64_dispatch:",
    "ldr x0, [sp, #{enter}]",
    "cbnz x0, .Lringfence_a64_guest_resume",
    ".globl ringfence_a64_resume",
    "ringfence_a64_resume:",
    // A kick asked the thread to leave guest mode before the application ran (never set in
    // exit-per-trap mode).
    "ldr x0, [sp, #{leave}]",
    "cbnz x0, 3f",
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
    // Into the sentry at EL1 with the frame's state (guest mode).
    ".Lringfence_a64_guest_resume:",
    "mov x0, sp",
    "ldr x1, [x0, #{sentry_ttbr0}]",
    "msr ttbr0_el1, x1",
    "isb",
    "add x0, x0, #{el1}",
    "ldp q0, q1, [x0, #{v} + 0]",
    "ldp q2, q3, [x0, #{v} + 32]",
    "ldp q4, q5, [x0, #{v} + 64]",
    "ldp q6, q7, [x0, #{v} + 96]",
    "ldp q8, q9, [x0, #{v} + 128]",
    "ldp q10, q11, [x0, #{v} + 160]",
    "ldp q12, q13, [x0, #{v} + 192]",
    "ldp q14, q15, [x0, #{v} + 224]",
    "ldp q16, q17, [x0, #{v} + 256]",
    "ldp q18, q19, [x0, #{v} + 288]",
    "ldp q20, q21, [x0, #{v} + 320]",
    "ldp q22, q23, [x0, #{v} + 352]",
    "ldp q24, q25, [x0, #{v} + 384]",
    "ldp q26, q27, [x0, #{v} + 416]",
    "ldp q28, q29, [x0, #{v} + 448]",
    "ldp q30, q31, [x0, #{v} + 480]",
    "ldp x1, x2, [x0, #{fpsr}]",
    "msr fpsr, x1",
    "msr fpcr, x2",
    "ldp x1, x2, [x0, #{sp_el0}]",
    "mov sp, x1",
    "msr elr_el1, x2",
    "ldp x1, x2, [x0, #{spsr}]",
    "msr spsr_el1, x1",
    "msr tpidr_el0, x2",
    "ldp x2, x3, [x0, #16]",
    "ldp x4, x5, [x0, #32]",
    "ldp x6, x7, [x0, #48]",
    "ldp x8, x9, [x0, #64]",
    "ldp x10, x11, [x0, #80]",
    "ldp x12, x13, [x0, #96]",
    "ldp x14, x15, [x0, #112]",
    "ldp x16, x17, [x0, #128]",
    "ldp x18, x19, [x0, #144]",
    "ldp x20, x21, [x0, #160]",
    "ldp x22, x23, [x0, #176]",
    "ldp x24, x25, [x0, #192]",
    "ldp x26, x27, [x0, #208]",
    "ldp x28, x29, [x0, #224]",
    "ldr x30, [x0, #240]",
    "ldp x0, x1, [x0, #{x}]",
    "eret",
    // extern "C" fn(frame) -> kind, called by the sentry at EL1: runs the application the
    // frame holds until its next exception.
    ".globl ringfence_a64_guest_switch",
    "ringfence_a64_guest_switch:",
    "add x1, x0, #{sentry}",
    "stp x19, x20, [x1, #0]",
    "stp x21, x22, [x1, #16]",
    "stp x23, x24, [x1, #32]",
    "stp x25, x26, [x1, #48]",
    "stp x27, x28, [x1, #64]",
    "stp x29, x30, [x1, #80]",
    "mov x2, sp",
    "mrs x3, tpidr_el0",
    "stp x2, x3, [x1, #96]",
    "mrs x2, fpcr",
    "str x2, [x1, #112]",
    "stp d8, d9, [x1, #128 + 0]",
    "stp d10, d11, [x1, #128 + 16]",
    "stp d12, d13, [x1, #128 + 32]",
    "stp d14, d15, [x1, #128 + 48]",
    "mov x2, #1",
    "str x2, [x0, #{mode}]",
    "mov sp, x0",
    "b ringfence_a64_resume",
    // The resume code found LEAVE set: back to the sentry without running the application.
    "3:",
    "mov x0, #{not_run}",
    "str x0, [sp, #{kind}]",
    // The application's exception in guest mode: back into the sentry's switch.
    ".Lringfence_a64_guest_return:",
    "mov x0, sp",
    "ldr x1, [x0, #{sentry_ttbr0}]",
    "msr ttbr0_el1, x1",
    "isb",
    "add x1, x0, #{sentry}",
    "ldp x19, x20, [x1, #0]",
    "ldp x21, x22, [x1, #16]",
    "ldp x23, x24, [x1, #32]",
    "ldp x25, x26, [x1, #48]",
    "ldp x27, x28, [x1, #64]",
    "ldp x29, x30, [x1, #80]",
    "ldp x2, x3, [x1, #96]",
    "mov sp, x2",
    "msr tpidr_el0, x3",
    "ldr x2, [x1, #112]",
    "msr fpcr, x2",
    "ldp d8, d9, [x1, #128 + 0]",
    "ldp d10, d11, [x1, #128 + 16]",
    "ldp d12, d13, [x1, #128 + 32]",
    "ldp d14, d15, [x1, #128 + 48]",
    "ldr x0, [x0, #{kind}]",
    "ret",
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
    mode = const frame::MODE,
    enter = const frame::ENTER,
    leave = const frame::LEAVE,
    sentry_ttbr0 = const frame::SENTRY_TTBR0,
    sentry = const frame::SENTRY,
    not_run = const kind::NOT_RUN,
    el1 = const frame::EL1,
);

// The pairs stored with one `stp` must be adjacent in the frame, and the sentry's area laid
// out as the code above uses it.
const _: () = assert!(frame::ELR == frame::SP_EL0 + 8 && frame::TPIDR == frame::SPSR + 8);
const _: () = assert!(frame::FAR == frame::ESR + 8 && frame::FPCR == frame::FPSR + 8);
const _: () = assert!(frame::FLUSH == frame::TTBR0 + 8 && frame::X == 0);
const _: () = assert!(frame::SENTRY_SP == frame::SENTRY + 96);
const _: () = assert!(frame::SENTRY_TPIDR == frame::SENTRY + 104);
const _: () = assert!(frame::SENTRY_FPCR == frame::SENTRY + 112);
const _: () = assert!(frame::SENTRY_D == frame::SENTRY + 128);

unsafe extern "C" {
    safe static ringfence_a64_code: u8;
    safe static ringfence_a64_dispatch: u8;
    safe static ringfence_a64_resume: u8;
    safe static ringfence_a64_eret: u8;
    safe static ringfence_a64_guest_switch: u8;
    safe static ringfence_a64_code_end: u8;
}

fn addr(sym: &'static u8) -> usize {
    core::ptr::from_ref(sym) as usize
}

fn offset(sym: &'static u8) -> u64 {
    (addr(sym) - addr(&ringfence_a64_code)) as u64
}

/// The code page: the vector table (VBAR_EL1 = its start), the save paths, the resume code
/// and the guest-mode switch.
pub fn code_page() -> &'static [u8] {
    let start = &ringfence_a64_code;
    let len = addr(&ringfence_a64_code_end) - addr(start);
    // SAFETY: both symbols delimit one assembled, read-only block of this binary's text
    // (`end` follows `start` in the same section), which lives for the whole program.
    unsafe { core::slice::from_raw_parts(core::ptr::from_ref(start), len) }
}

/// Offset in the code page of the code that follows an exit: where a vCPU starts, and where
/// it is after each exit.
pub fn dispatch_offset() -> u64 {
    offset(&ringfence_a64_dispatch)
}

/// Offset of the code that returns to the application.
pub fn resume_offset() -> u64 {
    offset(&ringfence_a64_resume)
}

/// Offset of the `eret` that ends it.
pub fn eret_offset() -> u64 {
    offset(&ringfence_a64_eret)
}

/// Offset of the guest-mode switch, `extern "C" fn(frame: *mut Frame) -> u64` (the kind of
/// the application's trap, or `kind::NOT_RUN`).
pub fn guest_switch_offset() -> u64 {
    offset(&ringfence_a64_guest_switch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(at: usize) -> u32 {
        u32::from_le_bytes(code_page()[at..][..4].try_into().unwrap())
    }

    #[test]
    fn one_page_with_the_vectors_first() {
        assert_eq!(code_page().len(), 4096);
        assert!(dispatch_offset() > 16 * 0x80);
        assert!(resume_offset() > dispatch_offset() && eret_offset() > resume_offset());
        assert!(guest_switch_offset() > eret_offset());
        // Exceptions from EL1 start by moving x0 to SP_EL0 (`msr sp_el0, x0`), from EL0 by
        // saving x0 and x1 to the frame (`stp x0, x1, [sp]`).
        for k in 0..8 {
            assert_eq!(word(k * 0x80), 0xd518_4100, "vector {k}");
        }
        for k in 8..16 {
            assert_eq!(word(k * 0x80), 0xa900_07e0, "vector {k}");
        }
        assert_eq!(word(eret_offset() as usize), 0xd69f_03e0);
    }
}
