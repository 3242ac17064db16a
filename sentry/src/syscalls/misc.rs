//! Small calls programs make in passing: extended attributes, file-system statistics,
//! system information, process groups and sessions, resource usage, sockets.

use abi::Errno;

use super::int;
use crate::platform::Platform;
use crate::task::Task;

/// Extended attributes are not stored: every lookup finds none (as on a file system that
/// supports them but holds none), lists are empty, setting is refused.
pub fn getxattr<P: Platform>(_: &mut Task<P>, _: [u64; 6]) -> Result<u64, Errno> {
    Err(Errno::ENODATA)
}

pub fn listxattr<P: Platform>(_: &mut Task<P>, _: [u64; 6]) -> Result<u64, Errno> {
    Ok(0)
}

pub fn setxattr<P: Platform>(_: &mut Task<P>, _: [u64; 6]) -> Result<u64, Errno> {
    Err(Errno::EOPNOTSUPP)
}

/// `struct statfs` for the sandbox's file systems: an in-memory one, as tmpfs reports.
fn statfs_bytes() -> Vec<u8> {
    const TMPFS_MAGIC: u64 = 0x0102_1994;
    let mut b = Vec::with_capacity(120);
    // type, bsize, blocks, bfree, bavail, files, ffree
    for v in [
        TMPFS_MAGIC,
        4096,
        1 << 20,
        1 << 19,
        1 << 19,
        1 << 20,
        1 << 19,
    ] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&[0u8; 8]); // fsid
    for v in [255u64, 4096, 0] {
        // namelen, frsize, flags
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.resize(120, 0);
    b
}

pub fn statfs<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let path = task.mm().copy_in_cstring(a[0], crate::vfs::PATH_MAX)?;
    let ctx = task.fs().clone();
    task.kernel.vfs.stat(&ctx, crate::vfs::At::Cwd, &path, 0)?;
    task.copy_out(a[1], &statfs_bytes())?;
    Ok(0)
}

pub fn fstatfs<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    task.fds.get(int(a[0]))?;
    task.copy_out(a[1], &statfs_bytes())?;
    Ok(0)
}

/// `sysinfo`: uptime of the sandbox, the host's memory as the sandbox's.
pub fn sysinfo<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let mut b = vec![0u8; 112];
    let uptime = task.kernel.started.elapsed().as_secs();
    b[..8].copy_from_slice(&uptime.to_le_bytes());
    let memory = task.kernel.platform.memory().size();
    b[32..40].copy_from_slice(&memory.to_le_bytes()); // totalram
    b[40..48].copy_from_slice(&(memory / 2).to_le_bytes()); // freeram
    b[80..82].copy_from_slice(&(task.kernel.process_ids().len() as u16).to_le_bytes());
    b[104..108].copy_from_slice(&1u32.to_le_bytes()); // mem_unit
    task.copy_out(a[0], &b)?;
    Ok(0)
}

#[cfg(target_arch = "x86_64")]
pub fn time<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| Errno::EINVAL)?
        .as_secs();
    if a[0] != 0 {
        task.copy_out(a[0], &now.to_le_bytes())?;
    }
    Ok(now)
}

/// Process groups and sessions: every process stays in the first process's group and
/// session (job control is not offered); queries answer accordingly.
pub fn getpgid<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let pid = int(a[0]);
    if pid != 0 && !task.kernel.process_exists(pid) {
        return Err(Errno::ESRCH);
    }
    Ok(task.kernel.init_pid() as u64)
}

#[cfg(target_arch = "x86_64")]
pub fn getpgrp<P: Platform>(task: &mut Task<P>, _: [u64; 6]) -> Result<u64, Errno> {
    Ok(task.kernel.init_pid() as u64)
}

pub fn getsid<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    getpgid(task, a)
}

/// Moving between groups is accepted and has no effect.
pub fn setpgid<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let pid = int(a[0]);
    if pid < 0 || int(a[1]) < 0 {
        return Err(Errno::EINVAL);
    }
    if pid != 0 && !task.kernel.process_exists(pid) {
        return Err(Errno::ESRCH);
    }
    Ok(0)
}

/// A group leader cannot start a session (EPERM), as Linux; the first process is one.
pub fn setsid<P: Platform>(task: &mut Task<P>, _: [u64; 6]) -> Result<u64, Errno> {
    if task.tgid == task.kernel.init_pid() {
        return Err(Errno::EPERM);
    }
    Ok(task.tgid as u64)
}

/// `getrusage`: usage is not accounted yet; zeros.
pub fn getrusage<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let who = int(a[0]);
    if !(-1..=1).contains(&who) {
        return Err(Errno::EINVAL);
    }
    task.copy_out(a[1], &[0u8; 144])?;
    Ok(0)
}

/// `times`: clock ticks since the sandbox started; CPU times are not accounted yet.
pub fn times<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    if a[0] != 0 {
        task.copy_out(a[0], &[0u8; 32])?;
    }
    Ok(task.kernel.started.elapsed().as_millis() as u64 / 10)
}

/// Networking is not offered yet: no address family is supported.
pub fn socket<P: Platform>(_: &mut Task<P>, _: [u64; 6]) -> Result<u64, Errno> {
    Err(Errno::EAFNOSUPPORT)
}

/// Socket calls on descriptors that cannot be sockets.
pub fn not_a_socket<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    task.fds.get(int(a[0]))?;
    Err(Errno::ENOTSOCK)
}

/// `fadvise64`: advice is accepted.
pub fn fadvise<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    task.fds.get(int(a[0]))?;
    Ok(0)
}

/// `prctl`: the thread name, the parent-death signal and a few flags programs set; other
/// options are refused with EINVAL, as Linux does for unknown ones.
pub fn prctl<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    const PR_SET_PDEATHSIG: u64 = 1;
    const PR_GET_PDEATHSIG: u64 = 2;
    const PR_GET_DUMPABLE: u64 = 3;
    const PR_SET_DUMPABLE: u64 = 4;
    const PR_SET_NAME: u64 = 15;
    const PR_GET_NAME: u64 = 16;
    const PR_SET_NO_NEW_PRIVS: u64 = 38;
    const PR_GET_NO_NEW_PRIVS: u64 = 39;
    const PR_SET_CHILD_SUBREAPER: u64 = 36;
    match a[0] {
        PR_SET_NAME => {
            let mut name = [0u8; 16];
            task.copy_in(a[1], &mut name[..15])?;
            task.comm = name;
            // The leader's name is the process's, as /proc/<pid>/comm and ps show it.
            if task.tid == task.tgid {
                let len = name.iter().position(|&b| b == 0).unwrap_or(15);
                task.proc.set_comm(&name[..len]);
            }
            Ok(0)
        }
        PR_GET_NAME => {
            let mut name = task.comm;
            if name[0] == 0 {
                // Never set on this thread: the name exec gave the process.
                let comm = task.proc.comm_name();
                name[..comm.len()].copy_from_slice(&comm);
            }
            task.copy_out(a[1], &name)?;
            Ok(0)
        }
        PR_GET_PDEATHSIG => {
            task.copy_out(a[1], &0i32.to_le_bytes())?;
            Ok(0)
        }
        PR_SET_PDEATHSIG | PR_SET_DUMPABLE | PR_SET_NO_NEW_PRIVS | PR_SET_CHILD_SUBREAPER => Ok(0),
        PR_GET_DUMPABLE => Ok(1),
        PR_GET_NO_NEW_PRIVS => Ok(1),
        _ => Err(Errno::EINVAL),
    }
}
