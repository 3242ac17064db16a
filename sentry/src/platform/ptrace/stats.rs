//! The platform's counters, for the sentry's `--stats` line.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// How often the platform went to the host.
#[derive(Debug, Default)]
pub struct Stats {
    /// Tracee stops seen by `switch` (each a host round trip).
    stops: AtomicU64,
    /// System calls injected into stubs (mapping changes, clones).
    stub_syscalls: AtomicU64,
    /// Tracees created.
    tracees: AtomicU64,
}

impl Stats {
    pub fn stop(&self) {
        self.stops.fetch_add(1, Ordering::Relaxed);
    }

    pub fn stub_syscall(&self) {
        self.stub_syscalls.fetch_add(1, Ordering::Relaxed);
    }

    pub fn tracee(&self) {
        self.tracees.fetch_add(1, Ordering::Relaxed);
    }
}

impl fmt::Display for Stats {
    /// `key=value` pairs; there are no VM exits on this platform.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "vm_exits=0 ptrace_stops={} stub_syscalls={} tracees={}",
            self.stops.load(Ordering::Relaxed),
            self.stub_syscalls.load(Ordering::Relaxed),
            self.tracees.load(Ordering::Relaxed),
        )
    }
}
