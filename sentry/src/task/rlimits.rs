//! Resource limits of a process (`getrlimit`/`setrlimit`/`prlimit64`): Linux's defaults,
//! inherited by fork and kept across exec. The sentry enforces `RLIMIT_NOFILE` (through the
//! descriptor table); the others are recorded and reported.

use abi::Errno;
use abi::resource::*;

/// No limit (`RLIM_INFINITY`).
pub const INFINITY: u64 = u64::MAX;

/// Soft and hard limit of each resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rlimits([(u64, u64); RLIM_NLIMITS as usize]);

impl Default for Rlimits {
    fn default() -> Rlimits {
        let mut l = [(INFINITY, INFINITY); RLIM_NLIMITS as usize];
        for (res, lim) in [
            (RLIMIT_STACK, (8 << 20, INFINITY)),
            (RLIMIT_NOFILE, (1024, 1024 * 1024)),
            (RLIMIT_NPROC, (63_000, 63_000)),
            (RLIMIT_CORE, (0, INFINITY)),
            (RLIMIT_MEMLOCK, (8 << 20, 8 << 20)),
            (RLIMIT_MSGQUEUE, (819_200, 819_200)),
            (RLIMIT_SIGPENDING, (63_000, 63_000)),
            (RLIMIT_NICE, (0, 0)),
            (RLIMIT_RTPRIO, (0, 0)),
        ] {
            l[res as usize] = lim;
        }
        Rlimits(l)
    }
}

impl Rlimits {
    /// (soft, hard) of `resource` (`EINVAL` if there is no such resource).
    pub fn get(&self, resource: u32) -> Result<(u64, u64), Errno> {
        self.0.get(resource as usize).copied().ok_or(Errno::EINVAL)
    }

    /// Sets `resource`: the soft limit may not exceed the hard one (`EINVAL`), and raising
    /// the hard limit needs privilege (`EPERM`).
    pub fn set(
        &mut self,
        resource: u32,
        soft: u64,
        hard: u64,
        privileged: bool,
    ) -> Result<(), Errno> {
        let slot = self.0.get_mut(resource as usize).ok_or(Errno::EINVAL)?;
        if soft > hard {
            return Err(Errno::EINVAL);
        }
        if hard > slot.1 && !privileged {
            return Err(Errno::EPERM);
        }
        *slot = (soft, hard);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_rules() {
        let mut l = Rlimits::default();
        assert_eq!(l.get(RLIMIT_NOFILE), Ok((1024, 1024 * 1024)));
        assert_eq!(l.get(RLIM_NLIMITS), Err(Errno::EINVAL));
        l.set(RLIMIT_NOFILE, 10, 20, false).unwrap();
        assert_eq!(l.get(RLIMIT_NOFILE), Ok((10, 20)));
        assert_eq!(l.set(RLIMIT_NOFILE, 30, 20, true), Err(Errno::EINVAL));
        assert_eq!(l.set(RLIMIT_NOFILE, 10, 30, false), Err(Errno::EPERM));
        l.set(RLIMIT_NOFILE, 10, 30, true).unwrap();
        assert_eq!(l.get(RLIMIT_NOFILE), Ok((10, 30)));
    }
}
