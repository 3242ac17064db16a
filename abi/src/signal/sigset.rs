use core::fmt;
use core::ops::{BitAnd, BitOr, Not};

use super::{NSIG, SIGKILL, SIGSTOP, is_valid};

/// The kernel's `sigset_t`: one bit per signal, signal `n` at bit `n - 1`.
///
/// This is the 8-byte set of `rt_sig*` calls, not glibc's 128-byte `sigset_t`.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct SigSet(u64);

impl SigSet {
    /// No signals.
    pub const EMPTY: SigSet = SigSet(0);
    /// Every signal.
    pub const FULL: SigSet = SigSet(u64::MAX);
    /// Signals that can be neither blocked nor caught.
    pub const UNBLOCKABLE: SigSet = SigSet::EMPTY.with(SIGKILL).with(SIGSTOP);

    /// A set from its raw bits.
    pub const fn from_bits(bits: u64) -> SigSet {
        SigSet(bits)
    }

    /// The raw bits.
    pub const fn bits(self) -> u64 {
        self.0
    }

    const fn bit(sig: i32) -> u64 {
        if is_valid(sig) { 1 << (sig - 1) } else { 0 }
    }

    /// This set plus `sig`; invalid signal numbers are ignored.
    #[must_use]
    pub const fn with(self, sig: i32) -> SigSet {
        SigSet(self.0 | Self::bit(sig))
    }

    /// Adds `sig`; invalid signal numbers are ignored (validate them at the syscall boundary).
    pub fn add(&mut self, sig: i32) {
        self.0 |= Self::bit(sig);
    }

    /// Removes `sig`; invalid signal numbers are ignored.
    pub fn del(&mut self, sig: i32) {
        self.0 &= !Self::bit(sig);
    }

    /// Whether `sig` is in the set; always false for invalid numbers.
    pub const fn contains(self, sig: i32) -> bool {
        self.0 & Self::bit(sig) != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The lowest signal in the set, which is the one delivered first.
    pub const fn first(self) -> Option<i32> {
        if self.0 == 0 {
            None
        } else {
            Some(self.0.trailing_zeros() as i32 + 1)
        }
    }

    /// The signals in the set, lowest first.
    pub fn iter(self) -> impl Iterator<Item = i32> {
        (1..=NSIG).filter(move |&sig| self.contains(sig))
    }
}

impl BitOr for SigSet {
    type Output = SigSet;
    fn bitor(self, rhs: SigSet) -> SigSet {
        SigSet(self.0 | rhs.0)
    }
}

impl BitAnd for SigSet {
    type Output = SigSet;
    fn bitand(self, rhs: SigSet) -> SigSet {
        SigSet(self.0 & rhs.0)
    }
}

impl Not for SigSet {
    type Output = SigSet;
    fn not(self) -> SigSet {
        SigSet(!self.0)
    }
}

impl fmt::Debug for SigSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::{SIGCHLD, SIGHUP, SIGRTMAX};

    #[test]
    fn add_del_contains() {
        let mut set = SigSet::EMPTY;
        set.add(SIGHUP);
        set.add(SIGRTMAX);
        assert_eq!(set.bits(), 1 | 1 << 63);
        assert!(set.contains(SIGHUP) && set.contains(SIGRTMAX) && !set.contains(SIGCHLD));
        set.del(SIGHUP);
        assert_eq!(set.first(), Some(SIGRTMAX));
        set.add(0);
        set.add(65);
        assert_eq!(set.bits(), 1 << 63);
        assert!(!set.contains(0) && !set.contains(-1));
        assert_eq!(SigSet::UNBLOCKABLE.bits(), 1 << 8 | 1 << 18);
    }
}
