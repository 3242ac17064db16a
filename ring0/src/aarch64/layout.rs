//! Fixed addresses of the aarch64 guest kernel and the layout of each vCPU's frame.
//!
//! The kernel lives in the upper half (TTBR1_EL1), which no application table covers; the
//! lower half (TTBR0_EL1) belongs to the application alone and switches with it.

/// Base of the entry area, in the last 512 GiB of the upper half.
pub const ENTRY_AREA: u64 = 0xffff_ff80_0000_0000;
/// The vector table and entry code (EL1 read + execute; VBAR_EL1 points here).
pub const CODE_VA: u64 = ENTRY_AREA;
/// The page right after the code: backed by no memory slot, so the entry code's write to it
/// is an MMIO exit. The code reaches it PC-relative.
pub const EXIT_PAGE_VA: u64 = CODE_VA + 0x1000;
/// Per-vCPU frames start here, one page each; SP_EL1 points at the vCPU's own.
pub const FRAME_VA: u64 = ENTRY_AREA + 0x10_000;
pub const FRAME_STRIDE: u64 = 0x1000;

/// Guest-virtual address of vCPU `cpu`'s frame.
pub const fn frame_va(cpu: usize) -> u64 {
    FRAME_VA + cpu as u64 * FRAME_STRIDE
}

/// The application address range, `[USER_MIN, USER_MAX)`: 48-bit virtual addresses, as
/// Linux gives arm64 processes with 4 KiB pages and four levels, minus the last page.
pub const USER_MIN: u64 = 0x1_0000;
pub const USER_MAX: u64 = 0x0000_ffff_ffff_f000;

/// Offsets in a vCPU's frame, where the entry code saves the application's state at a trap
/// and loads it from when it returns to EL0. Every offset fits the scaled immediates of
/// `stp`/`ldp` (x registers up to 504, q registers up to 1008).
pub mod frame {
    /// `x0`..`x30`, 8 bytes each.
    pub const X: u64 = 0;
    pub const SP_EL0: u64 = 248;
    /// ELR_EL1 (the application's PC) and SPSR_EL1 (its PSTATE): adjacent, one `stp`.
    pub const ELR: u64 = 256;
    pub const SPSR: u64 = 264;
    /// TPIDR_EL0, the thread pointer.
    pub const TPIDR: u64 = 272;
    /// In: the TTBR0_EL1 value (table and ASID) of the application.
    pub const TTBR0: u64 = 280;
    /// In: nonzero to flush the TLB entries of that ASID first.
    pub const FLUSH: u64 = 288;
    /// Out: the syndrome and fault address of the trap.
    pub const ESR: u64 = 296;
    pub const FAR: u64 = 304;
    /// Out: which vector took the trap (0..16, the vector table's entry index).
    pub const KIND: u64 = 312;
    pub const FPSR: u64 = 320;
    pub const FPCR: u64 = 328;
    /// In: 1 when the sentry runs in guest mode, so the application's traps return into its
    /// switch (at EL1) instead of leaving with an exit.
    pub const MODE: u64 = 336;
    /// In: after an exit, 1 enters the sentry at EL1 with the frame's state (guest mode); 0
    /// returns to the application at EL0.
    pub const ENTER: u64 = 344;
    /// In: the host asks the thread to leave guest mode at its next chance (a kick that came
    /// while the vCPU ran the entry code).
    pub const LEAVE: u64 = 352;
    /// In: TTBR0_EL1 of the sentry's own table (guest mode).
    pub const SENTRY_TTBR0: u64 = 360;
    /// `q0`..`q31`, 16 bytes each.
    pub const V: u64 = 512;
    /// Guest mode: the sentry's registers that its switch to the application must keep
    /// (callee-saved x19-x30, SP, TPIDR_EL0, FPCR, d8-d15).
    pub const SENTRY: u64 = 1024;
    pub const SENTRY_SP: u64 = SENTRY + 96;
    pub const SENTRY_TPIDR: u64 = SENTRY + 104;
    pub const SENTRY_FPCR: u64 = SENTRY + 112;
    pub const SENTRY_D: u64 = SENTRY + 128;
    /// The sentry's own state at its exceptions in guest mode, laid out as the application's
    /// (X, SP_EL0 = its SP, ELR, SPSR, TPIDR, ESR, FAR, KIND, FPSR, FPCR, V at the same
    /// offsets from here).
    pub const EL1: u64 = 2048;
    /// Bytes of the frame.
    pub const SIZE: u64 = EL1 + V + 32 * 16;
}

/// Vector table entries (index = offset / 0x80), in the architecture's order.
pub mod kind {
    /// From EL1 (the entry code itself): 0..8. Never expected.
    pub const CURRENT_EL_END: u64 = 8;
    /// From EL0, AArch64: a synchronous exception (SVC, aborts, undefined instructions, …).
    pub const LOWER_SYNC: u64 = 8;
    pub const LOWER_IRQ: u64 = 9;
    pub const LOWER_FIQ: u64 = 10;
    pub const LOWER_SERROR: u64 = 11;
    /// From EL1 with SP_EL1: the sentry's own exceptions in guest mode (host calls, faults on
    /// memory not in its table, the host's kicks).
    pub const CURRENT_SYNC: u64 = 4;
    pub const CURRENT_IRQ: u64 = 5;
    /// Not a vector: the guest-mode switch did not enter the application (a kick came first).
    pub const NOT_RUN: u64 = 16;
}

/// The `svc` immediate with which the sentry leaves guest mode on purpose (its other `svc`s,
/// immediate 0, are host calls the host replays).
pub const LEAVE_SVC: u16 = 0x5246;

const _: () = assert!(frame::SIZE <= FRAME_STRIDE);
