//! A vCPU's frame as the host sees it: the `#[repr(C)]` twin of `ring0::aarch64::layout::frame`.

use ring0::aarch64::layout::frame;

#[repr(C, align(16))]
#[derive(Clone, Copy)]
pub(crate) struct Frame {
    pub x: [u64; 31],
    pub sp_el0: u64,
    pub elr: u64,
    pub spsr: u64,
    pub tpidr: u64,
    pub ttbr0: u64,
    pub flush: u64,
    pub esr: u64,
    pub far: u64,
    pub kind: u64,
    pub fpsr: u64,
    pub fpcr: u64,
    pub mode: u64,
    pub enter: u64,
    pub leave: u64,
    pub sentry_ttbr0: u64,
    _reserved: [u64; 18],
    pub v: [u128; 32],
    /// The sentry's callee-saved state during a guest-mode switch (x19-x30, SP, TPIDR_EL0,
    /// FPCR, d8-d15); only the entry code uses it.
    _sentry: [u64; 24],
    _gap: [u64; 104],
    /// The sentry's state at its own exceptions (guest mode).
    pub el1: Saved,
}

/// A whole register state as the entry code saves it (the EL1 area; the application's part
/// of `Frame` has the same layout with the switch's fields in its gaps).
#[repr(C, align(16))]
#[derive(Clone, Copy)]
pub(crate) struct Saved {
    pub x: [u64; 31],
    /// SP (of EL0 for the application, of EL1 for the sentry).
    pub sp: u64,
    pub elr: u64,
    pub spsr: u64,
    pub tpidr: u64,
    _unused: [u64; 2],
    pub esr: u64,
    pub far: u64,
    pub kind: u64,
    pub fpsr: u64,
    pub fpcr: u64,
    _reserved: [u64; 22],
    pub v: [u128; 32],
}

const _: () = {
    use core::mem::offset_of;
    assert!(offset_of!(Frame, x) == frame::X as usize);
    assert!(offset_of!(Frame, sp_el0) == frame::SP_EL0 as usize);
    assert!(offset_of!(Frame, elr) == frame::ELR as usize);
    assert!(offset_of!(Frame, spsr) == frame::SPSR as usize);
    assert!(offset_of!(Frame, tpidr) == frame::TPIDR as usize);
    assert!(offset_of!(Frame, ttbr0) == frame::TTBR0 as usize);
    assert!(offset_of!(Frame, flush) == frame::FLUSH as usize);
    assert!(offset_of!(Frame, esr) == frame::ESR as usize);
    assert!(offset_of!(Frame, far) == frame::FAR as usize);
    assert!(offset_of!(Frame, kind) == frame::KIND as usize);
    assert!(offset_of!(Frame, fpsr) == frame::FPSR as usize);
    assert!(offset_of!(Frame, fpcr) == frame::FPCR as usize);
    assert!(offset_of!(Frame, v) == frame::V as usize);
    assert!(offset_of!(Frame, mode) == frame::MODE as usize);
    assert!(offset_of!(Frame, enter) == frame::ENTER as usize);
    assert!(offset_of!(Frame, leave) == frame::LEAVE as usize);
    assert!(offset_of!(Frame, sentry_ttbr0) == frame::SENTRY_TTBR0 as usize);
    assert!(offset_of!(Frame, _sentry) == frame::SENTRY as usize);
    assert!(core::mem::size_of::<Frame>() == frame::SIZE as usize);
    assert!(offset_of!(Frame, el1) == frame::EL1 as usize);
    assert!(offset_of!(Saved, sp) == frame::SP_EL0 as usize);
    assert!(offset_of!(Saved, elr) == frame::ELR as usize);
    assert!(offset_of!(Saved, spsr) == frame::SPSR as usize);
    assert!(offset_of!(Saved, tpidr) == frame::TPIDR as usize);
    assert!(offset_of!(Saved, esr) == frame::ESR as usize);
    assert!(offset_of!(Saved, far) == frame::FAR as usize);
    assert!(offset_of!(Saved, kind) == frame::KIND as usize);
    assert!(offset_of!(Saved, fpsr) == frame::FPSR as usize);
    assert!(offset_of!(Saved, v) == frame::V as usize);
};
