//! Host calls that are not about files: random bytes and the descriptor limit.

use abi::Errno;

use super::last_errno;

/// Fills `buf` with random bytes from the host kernel (`getrandom(2)`, blocking until the pool
/// is initialised, as `/dev/urandom` readers expect after boot).
pub fn getrandom(buf: &mut [u8]) -> Result<(), Errno> {
    let mut done = 0;
    while done < buf.len() {
        let rest = &mut buf[done..];
        // SAFETY: `rest` is a live, writable buffer of `rest.len()` bytes for the whole call.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n < 0 {
            let e = last_errno();
            if e == Errno::EINTR {
                continue;
            }
            return Err(e);
        }
        done += n.unsigned_abs();
    }
    Ok(())
}

/// Raises the sentry's soft `RLIMIT_NOFILE` to its hard limit and returns the new soft limit.
/// Every host object the sandbox has looked up holds an `O_PATH` descriptor, so the dentry
/// cache sizes itself from this.
pub fn raise_fd_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable `struct rlimit`.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 1024;
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: `raised` is a valid `struct rlimit` that lives across the call.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            return raised.rlim_cur;
        }
    }
    lim.rlim_cur
}

/// The host's /proc/cpuinfo, which the sandbox's /proc shows as its own: the same CPUs run
/// the application.
pub fn cpuinfo() -> Result<Vec<u8>, Errno> {
    std::fs::read("/proc/cpuinfo").map_err(|e| e.raw_os_error().map_or(Errno::EIO, Errno::new))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_bytes_vary() {
        let mut a = [0u8; 64];
        let mut b = [0u8; 64];
        getrandom(&mut a).unwrap();
        getrandom(&mut b).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn fd_limit_is_positive() {
        assert!(raise_fd_limit() >= 64);
    }
}
