//! Time structures and clock identifiers.

/// `struct timespec` (64-bit `time_t` on both architectures).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timespec {
    /// Seconds.
    pub tv_sec: i64,
    /// Nanoseconds, `0..1_000_000_000` when valid.
    pub tv_nsec: i64,
}

impl Timespec {
    /// A timespec of `sec` seconds and `nsec` nanoseconds.
    pub const fn new(tv_sec: i64, tv_nsec: i64) -> Self {
        Self { tv_sec, tv_nsec }
    }

    /// Splits a nanosecond count.
    pub const fn from_nanos(ns: u64) -> Self {
        Self {
            tv_sec: (ns / NSEC_PER_SEC) as i64,
            tv_nsec: (ns % NSEC_PER_SEC) as i64,
        }
    }

    /// The total in nanoseconds, or `None` if negative, invalid or too large.
    pub const fn to_nanos(self) -> Option<u64> {
        if !self.is_valid() {
            return None;
        }
        match (self.tv_sec as u64).checked_mul(NSEC_PER_SEC) {
            Some(ns) => ns.checked_add(self.tv_nsec as u64),
            None => None,
        }
    }

    /// Whether the kernel would accept this as a time value (`EINVAL` otherwise).
    pub const fn is_valid(self) -> bool {
        self.tv_sec >= 0 && self.tv_nsec >= 0 && (self.tv_nsec as u64) < NSEC_PER_SEC
    }
}

/// `struct timeval`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timeval {
    /// Seconds.
    pub tv_sec: i64,
    /// Microseconds, `0..1_000_000` when valid.
    pub tv_usec: i64,
}

/// `struct itimerspec`, for `timer_settime` and `timerfd_settime`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Itimerspec {
    /// Period; zero for a one-shot timer.
    pub it_interval: Timespec,
    /// Time until the first expiry; zero disarms.
    pub it_value: Timespec,
}

/// `struct itimerval`, for `setitimer`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Itimerval {
    /// Period; zero for a one-shot timer.
    pub it_interval: Timeval,
    /// Time until the first expiry; zero disarms.
    pub it_value: Timeval,
}

/// Nanoseconds per second.
pub const NSEC_PER_SEC: u64 = 1_000_000_000;

/// `tv_nsec` value asking `utimensat` to use the current time.
pub const UTIME_NOW: i64 = (1 << 30) - 1;
/// `tv_nsec` value asking `utimensat` to leave the timestamp alone.
pub const UTIME_OMIT: i64 = (1 << 30) - 2;

/// Flag for `clock_nanosleep`/`timer_settime`: the time is absolute, not relative.
pub const TIMER_ABSTIME: i32 = 1;

pub const CLOCK_REALTIME: i32 = 0;
pub const CLOCK_MONOTONIC: i32 = 1;
pub const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
pub const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
pub const CLOCK_MONOTONIC_RAW: i32 = 4;
pub const CLOCK_REALTIME_COARSE: i32 = 5;
pub const CLOCK_MONOTONIC_COARSE: i32 = 6;
pub const CLOCK_BOOTTIME: i32 = 7;
pub const CLOCK_REALTIME_ALARM: i32 = 8;
pub const CLOCK_BOOTTIME_ALARM: i32 = 9;
pub const CLOCK_TAI: i32 = 11;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timespec_nanos() {
        let ts = Timespec::from_nanos(3 * NSEC_PER_SEC + 7);
        assert_eq!(ts, Timespec::new(3, 7));
        assert_eq!(ts.to_nanos(), Some(3 * NSEC_PER_SEC + 7));
        assert_eq!(Timespec::new(0, 1_000_000_000).to_nanos(), None);
        assert_eq!(Timespec::new(-1, 0).to_nanos(), None);
        assert_eq!(Timespec::new(i64::MAX, 0).to_nanos(), None);
    }
}
