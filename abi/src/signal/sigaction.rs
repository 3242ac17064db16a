use bitflags::bitflags;

use super::SigSet;

/// `sa_handler` value: take the default action.
pub const SIG_DFL: u64 = 0;
/// `sa_handler` value: ignore the signal.
pub const SIG_IGN: u64 = 1;

/// The kernel's `struct sigaction` as `rt_sigaction` reads and writes it.
///
/// This is not the C library's layout (which puts the mask second and makes it 128 bytes).
/// aarch64 uses the same field order as x86_64.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SigAction {
    /// Guest address of the handler, or [`SIG_DFL`] / [`SIG_IGN`].
    pub handler: u64,
    /// [`SaFlags`] bits.
    pub flags: u64,
    /// Guest address of the code that calls `rt_sigreturn` (with `SA_RESTORER`).
    pub restorer: u64,
    /// Signals blocked while the handler runs ([`SigSet`] bits).
    pub mask: u64,
}

impl SigAction {
    /// The flags, keeping bits this crate does not name.
    pub const fn sa_flags(&self) -> SaFlags {
        SaFlags::from_bits_retain(self.flags)
    }

    /// The mask as a set.
    pub const fn sigset(&self) -> SigSet {
        SigSet::from_bits(self.mask)
    }
}

bitflags! {
    /// `SA_*` flags of [`SigAction::flags`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct SaFlags: u64 {
        /// No `SIGCHLD` when a child stops or continues.
        const NOCLDSTOP = 0x1;
        /// Children do not become zombies.
        const NOCLDWAIT = 0x2;
        /// The handler takes `(sig, siginfo, ucontext)`.
        const SIGINFO = 0x4;
        /// Never supported; lets programs probe which flags the kernel knows.
        const UNSUPPORTED = 0x400;
        /// Keep address tag bits in `si_addr`.
        const EXPOSE_TAGBITS = 0x800;
        /// `restorer` is valid.
        const RESTORER = 0x0400_0000;
        /// Run the handler on the alternate stack.
        const ONSTACK = 0x0800_0000;
        /// Restart interrupted system calls.
        const RESTART = 0x1000_0000;
        /// Do not block the signal in its own handler.
        const NODEFER = 0x4000_0000;
        /// Reset to the default action on delivery.
        const RESETHAND = 0x8000_0000;
    }
}

impl SaFlags {
    /// Old name of [`SaFlags::NODEFER`].
    pub const NOMASK: SaFlags = SaFlags::NODEFER;
    /// Old name of [`SaFlags::RESETHAND`].
    pub const ONESHOT: SaFlags = SaFlags::RESETHAND;
}
