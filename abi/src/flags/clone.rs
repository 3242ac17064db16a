//! `clone`/`clone3` flags.

use bitflags::bitflags;

/// The low byte of `clone`'s flags argument is the signal sent to the parent when the child
/// exits, not a flag; mask it off before [`CloneFlags::from_bits`].
pub const CSIGNAL: u64 = 0xff;

bitflags! {
    /// `CLONE_*` flags (64 bits wide because `clone3` has flags above bit 31).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct CloneFlags: u64 {
        const NEWTIME = 0x80;
        const VM = 0x100;
        const FS = 0x200;
        const FILES = 0x400;
        const SIGHAND = 0x800;
        const PIDFD = 0x1000;
        const PTRACE = 0x2000;
        const VFORK = 0x4000;
        const PARENT = 0x8000;
        const THREAD = 0x10000;
        const NEWNS = 0x20000;
        const SYSVSEM = 0x40000;
        const SETTLS = 0x80000;
        const PARENT_SETTID = 0x100000;
        const CHILD_CLEARTID = 0x200000;
        /// Ignored by the kernel since 2.6; kept for old callers.
        const DETACHED = 0x400000;
        const UNTRACED = 0x800000;
        const CHILD_SETTID = 0x1000000;
        const NEWCGROUP = 0x2000000;
        const NEWUTS = 0x4000000;
        const NEWIPC = 0x8000000;
        const NEWUSER = 0x10000000;
        const NEWPID = 0x20000000;
        const NEWNET = 0x40000000;
        const IO = 0x80000000;
        /// `clone3` only: reset handlers to the default.
        const CLEAR_SIGHAND = 0x100000000;
        /// `clone3` only: place the child in the cgroup given by `cgroup`.
        const INTO_CGROUP = 0x200000000;
    }
}

impl CloneFlags {
    /// Splits a raw `clone` flags argument into flags (unknown bits kept) and exit signal.
    pub const fn split(raw: u64) -> (CloneFlags, u32) {
        (
            CloneFlags::from_bits_retain(raw & !CSIGNAL),
            (raw & CSIGNAL) as u32,
        )
    }
}
