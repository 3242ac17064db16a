//! System information and randomness.

use abi::{Errno, UtsName};

use crate::platform::Platform;
use crate::task::Task;

fn field(s: &str) -> [u8; 65] {
    let mut f = [0u8; 65];
    let n = s.len().min(64);
    f[..n].copy_from_slice(&s.as_bytes()[..n]);
    f
}

pub fn uname<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let machine = if cfg!(target_arch = "x86_64") {
        "x86_64"
    } else {
        "aarch64"
    };
    let uts = UtsName {
        sysname: field("Linux"),
        nodename: field(&task.kernel.hostname()),
        // The Linux version whose interface the sentry presents.
        release: field("6.1.0"),
        version: field("#1 SMP ringfence"),
        machine: field(machine),
        domainname: field("(none)"),
    };
    let mut bytes = Vec::with_capacity(6 * 65);
    for f in [
        uts.sysname,
        uts.nodename,
        uts.release,
        uts.version,
        uts.machine,
        uts.domainname,
    ] {
        bytes.extend_from_slice(&f);
    }
    task.copy_out(a[0], &bytes)?;
    Ok(0)
}

/// `getrandom(buf, len, flags)`: bytes from the host's generator.
pub fn getrandom<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    const KNOWN: u64 = 0x1 | 0x2 | 0x4; // NONBLOCK, RANDOM, INSECURE
    if a[2] & !KNOWN != 0 {
        return Err(Errno::EINVAL);
    }
    let len = a[1].min(32 * 1024 * 1024) as usize;
    let mut buf = vec![0u8; len.min(256 * 1024)];
    getrandom::fill(&mut buf).map_err(|_| Errno::EIO)?;
    task.copy_out(a[0], &buf)?;
    Ok(buf.len() as u64)
}
