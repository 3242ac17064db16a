//! Process and thread identity, exit, limits, scheduling.

use abi::Errno;

use crate::platform::Platform;
use crate::task::{ExitStatus, Task};

pub fn exit_group<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    task.exit_group(ExitStatus::Exited(a[0] as i32 & 0xff));
    Ok(0)
}

/// `exit`: this thread ends; the process ends with its last thread.
pub fn exit<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    task.exit_thread(a[0] as i32 & 0xff);
    Ok(0)
}

pub fn getpid<P: Platform>(task: &mut Task<P>, _: [u64; 6]) -> Result<u64, Errno> {
    Ok(task.tgid as u64)
}

pub fn gettid<P: Platform>(task: &mut Task<P>, _: [u64; 6]) -> Result<u64, Errno> {
    Ok(task.tid as u64)
}

/// The first process's parent is outside the sandbox: 0, as for PID 1 in a namespace.
pub fn getppid<P: Platform>(_: &mut Task<P>, _: [u64; 6]) -> Result<u64, Errno> {
    Ok(0)
}

/// Syscalls the sentry knows and chooses not to offer; callers fall back.
pub fn not_supported<P: Platform>(_: &mut Task<P>, _: [u64; 6]) -> Result<u64, Errno> {
    Err(Errno::ENOSYS)
}

/// Calls whose effect the sentry does not need yet and that cannot fail for valid input.
pub fn ok<P: Platform>(_: &mut Task<P>, _: [u64; 6]) -> Result<u64, Errno> {
    Ok(0)
}

pub fn set_tid_address<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    task.clear_child_tid = a[0];
    Ok(task.tid as u64)
}

/// `prlimit64(pid, resource, new, old)` for the calling process (`ESRCH` for others).
/// Setting `RLIMIT_NOFILE` limits the descriptor table.
pub fn prlimit64<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    if a[0] != 0 && a[0] != task.tgid as u64 {
        return Err(Errno::ESRCH);
    }
    let resource = a[1] as u32;
    let old = task.group.limits().get(resource)?;
    if a[2] != 0 {
        let mut new = [0u8; 16];
        task.copy_in(a[2], &mut new)?;
        let word = |i: usize| u64::from_le_bytes(new[i..i + 8].try_into().unwrap_or([0; 8]));
        let (soft, hard) = (word(0), word(8));
        let privileged = task.fs().creds.has_cap(abi::caps::CAP_SYS_RESOURCE);
        let mut limits = *task.group.limits();
        limits.set(resource, soft, hard, privileged)?;
        if resource == abi::resource::RLIMIT_NOFILE {
            // More than the table can ever hold is EPERM, as Linux's nr_open.
            if hard > crate::vfs::NR_OPEN {
                return Err(Errno::EPERM);
            }
            task.fds.set_limit(soft)?;
        }
        *task.group.limits() = limits;
    }
    if a[3] != 0 {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&old.0.to_le_bytes());
        out[8..].copy_from_slice(&old.1.to_le_bytes());
        task.copy_out(a[3], &out)?;
    }
    Ok(0)
}

/// All CPUs of the host are the sandbox's.
pub fn sched_getaffinity<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let bytes = cpus.div_ceil(64) * 8;
    if (a[1] as usize) < bytes || !a[1].is_multiple_of(8) {
        return Err(Errno::EINVAL);
    }
    let mut mask = vec![0u8; bytes];
    for cpu in 0..cpus {
        mask[cpu / 8] |= 1 << (cpu % 8);
    }
    task.copy_out(a[2], &mask)?;
    Ok(bytes as u64)
}

#[cfg(target_arch = "x86_64")]
pub fn arch_prctl<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    const ARCH_SET_GS: u64 = 0x1001;
    const ARCH_SET_FS: u64 = 0x1002;
    const ARCH_GET_FS: u64 = 0x1003;
    const ARCH_GET_GS: u64 = 0x1004;
    let canonical = |v: u64| v < 0x8000_0000_0000;
    match a[0] {
        ARCH_SET_FS if canonical(a[1]) => task.regs.fs_base = a[1],
        ARCH_SET_GS if canonical(a[1]) => task.regs.gs_base = a[1],
        ARCH_SET_FS | ARCH_SET_GS => return Err(Errno::EPERM),
        ARCH_GET_FS => task.copy_out(a[1], &task.regs.fs_base.to_le_bytes())?,
        ARCH_GET_GS => task.copy_out(a[1], &task.regs.gs_base.to_le_bytes())?,
        _ => return Err(Errno::EINVAL),
    }
    Ok(0)
}
