//! VM exits counted by reason: every exit costs microseconds, so they are the first thing to
//! look at when the platform is slow.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// Why `KVM_RUN` returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitReason {
    /// A ring-0 stub halted (exceptions; syscalls on the hardware backend).
    Hlt,
    /// The software backend's syscall trampoline (or an application touching the exit page).
    Mmio,
    /// A signal or `interrupt()` made `KVM_RUN` return early.
    Interrupted,
    /// Anything else (shutdown, failed entry, internal error, port I/O): always a failure.
    Other,
}

const REASONS: [ExitReason; 4] = [
    ExitReason::Hlt,
    ExitReason::Mmio,
    ExitReason::Interrupted,
    ExitReason::Other,
];

impl ExitReason {
    pub fn name(self) -> &'static str {
        match self {
            ExitReason::Hlt => "hlt",
            ExitReason::Mmio => "mmio",
            ExitReason::Interrupted => "interrupted",
            ExitReason::Other => "other",
        }
    }
}

/// Machine-wide exit counters, updated by every vCPU.
#[derive(Default)]
pub struct ExitCounters {
    counts: [AtomicU64; REASONS.len()],
}

impl ExitCounters {
    pub(crate) fn count(&self, reason: ExitReason) {
        self.counts[reason as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// A consistent-enough copy of the counters.
    pub fn snapshot(&self) -> ExitStats {
        ExitStats {
            counts: std::array::from_fn(|i| self.counts[i].load(Ordering::Relaxed)),
        }
    }
}

/// A copy of the exit counters at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExitStats {
    counts: [u64; REASONS.len()],
}

impl ExitStats {
    pub fn get(&self, reason: ExitReason) -> u64 {
        self.counts[reason as usize]
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Exits since `earlier`.
    pub fn since(&self, earlier: &ExitStats) -> ExitStats {
        ExitStats {
            counts: std::array::from_fn(|i| self.counts[i] - earlier.counts[i]),
        }
    }
}

impl fmt::Display for ExitStats {
    /// `vm_exits=N hlt=N mmio=N interrupted=N other=N`, the form `--stats` prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "vm_exits={}", self.total())?;
        for r in REASONS {
            write!(f, " {}={}", r.name(), self.get(r))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_reason() {
        let c = ExitCounters::default();
        let before = c.snapshot();
        c.count(ExitReason::Hlt);
        c.count(ExitReason::Mmio);
        c.count(ExitReason::Mmio);
        let d = c.snapshot().since(&before);
        assert_eq!(
            (d.get(ExitReason::Hlt), d.get(ExitReason::Mmio), d.total()),
            (1, 2, 3)
        );
        assert_eq!(
            d.to_string(),
            "vm_exits=3 hlt=1 mmio=2 interrupted=0 other=0"
        );
    }
}
