//! Identity, scheduling and resource calls: user and group ids as the container's
//! configuration sets them (root by default), on an ordinary time-sharing scheduler.

use abi::Errno;

use super::int;
use crate::platform::Platform;
use crate::task::Task;
use crate::vfs::{IdKind, NGROUPS_MAX};

/// An id argument: `-1` (as the low 32 bits) leaves the id unchanged.
fn id_arg(raw: u64) -> Option<u32> {
    match raw as u32 {
        u32::MAX => None,
        id => Some(id),
    }
}

pub fn getuid<P: Platform>(task: &mut Task<P>, _: [u64; 6]) -> Result<u64, Errno> {
    Ok(task.fs().creds.ruid.into())
}

pub fn geteuid<P: Platform>(task: &mut Task<P>, _: [u64; 6]) -> Result<u64, Errno> {
    Ok(task.fs().creds.uid.into())
}

pub fn getgid<P: Platform>(task: &mut Task<P>, _: [u64; 6]) -> Result<u64, Errno> {
    Ok(task.fs().creds.rgid.into())
}

pub fn getegid<P: Platform>(task: &mut Task<P>, _: [u64; 6]) -> Result<u64, Errno> {
    Ok(task.fs().creds.gid.into())
}

fn getres<P: Platform>(task: &mut Task<P>, a: [u64; 6], kind: IdKind) -> Result<u64, Errno> {
    let (r, e, s) = task.fs().creds.ids(kind);
    for (addr, id) in a[..3].iter().zip([r, e, s]) {
        task.copy_out(*addr, &id.to_le_bytes())?;
    }
    Ok(0)
}

pub fn getresuid<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    getres(task, a, IdKind::User)
}

pub fn getresgid<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    getres(task, a, IdKind::Group)
}

/// getgroups(size, list): the count alone for size 0, `EINVAL` if `size` is too small.
pub fn getgroups<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let size = a[0] as i32;
    if size < 0 {
        return Err(Errno::EINVAL);
    }
    let groups = task.fs().creds.groups.clone();
    if size == 0 {
        return Ok(groups.len() as u64);
    }
    if (size as usize) < groups.len() {
        return Err(Errno::EINVAL);
    }
    let bytes: Vec<u8> = groups.iter().flat_map(|g| g.to_le_bytes()).collect();
    task.copy_out(a[1], &bytes)?;
    Ok(groups.len() as u64)
}

/// setgroups(size, list).
pub fn setgroups<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let size = usize::try_from(a[0] as i32).map_err(|_| Errno::EINVAL)?;
    if size > NGROUPS_MAX {
        return Err(Errno::EINVAL);
    }
    let mut raw = vec![0u8; size * 4];
    task.copy_in(a[1], &mut raw)?;
    let groups = raw
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    task.fs().creds.set_groups(groups)?;
    Ok(0)
}

fn change<P: Platform>(
    task: &mut Task<P>,
    f: impl FnOnce(&mut crate::vfs::Creds) -> Result<(), Errno>,
) -> Result<u64, Errno> {
    f(&mut task.fs().creds).map(|()| 0)
}

pub fn setuid<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let id = id_arg(a[0]).ok_or(Errno::EINVAL)?;
    change(task, |c| c.set_id(IdKind::User, id))
}

pub fn setgid<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let id = id_arg(a[0]).ok_or(Errno::EINVAL)?;
    change(task, |c| c.set_id(IdKind::Group, id))
}

pub fn setreuid<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    change(task, |c| c.set_re(IdKind::User, id_arg(a[0]), id_arg(a[1])))
}

pub fn setregid<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    change(task, |c| {
        c.set_re(IdKind::Group, id_arg(a[0]), id_arg(a[1]))
    })
}

pub fn setresuid<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    change(task, |c| {
        c.set_res(IdKind::User, id_arg(a[0]), id_arg(a[1]), id_arg(a[2]))
    })
}

pub fn setresgid<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    change(task, |c| {
        c.set_res(IdKind::Group, id_arg(a[0]), id_arg(a[1]), id_arg(a[2]))
    })
}

/// setfsuid/setfsgid: the filesystem ids are the effective ones here, so these report them
/// and change nothing (callers check by calling again, as the man page advises).
pub fn setfsuid<P: Platform>(task: &mut Task<P>, _: [u64; 6]) -> Result<u64, Errno> {
    Ok(task.fs().creds.uid.into())
}

pub fn setfsgid<P: Platform>(task: &mut Task<P>, _: [u64; 6]) -> Result<u64, Errno> {
    Ok(task.fs().creds.gid.into())
}

/// sched_getscheduler: SCHED_OTHER for every task.
pub fn sched_getscheduler<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    check_pid(task, a[0])?;
    Ok(0)
}

/// sched_getparam: priority 0 (SCHED_OTHER).
pub fn sched_getparam<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    check_pid(task, a[0])?;
    task.copy_out(a[1], &0i32.to_le_bytes())?;
    Ok(0)
}

/// sched_setscheduler / sched_setparam: only SCHED_OTHER (and BATCH, IDLE) with priority 0.
pub fn sched_set<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    check_pid(task, a[0])?;
    Ok(0)
}

/// sched_get_priority_max/min: 0 for the normal policies, 1..99 for the real-time ones.
pub fn sched_priority_max<P: Platform>(_: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    match a[0] {
        0 | 3 | 5 => Ok(0),
        1 | 2 => Ok(99),
        _ => Err(Errno::EINVAL),
    }
}

pub fn sched_priority_min<P: Platform>(_: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    match a[0] {
        0 | 3 | 5 => Ok(0),
        1 | 2 => Ok(1),
        _ => Err(Errno::EINVAL),
    }
}

/// sched_setaffinity: accepted for existing tasks (the host schedules the threads).
pub fn sched_setaffinity<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    check_pid(task, a[0])?;
    Ok(0)
}

/// getpriority / setpriority: nice 0 (getpriority returns 20 - nice).
pub fn getpriority<P: Platform>(_: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    if a[0] > 2 {
        return Err(Errno::EINVAL);
    }
    Ok(20)
}

pub fn setpriority<P: Platform>(_: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    if a[0] > 2 {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

fn check_pid<P: Platform>(task: &Task<P>, pid: u64) -> Result<(), Errno> {
    let pid = int(pid);
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    if pid != 0 && task.kernel.thread(pid).is_none() {
        return Err(Errno::ESRCH);
    }
    Ok(())
}

/// Memory locking and syncing: all memory is resident and nothing is written back.
pub fn memory_noop<P: Platform>(_: &mut Task<P>, _: [u64; 6]) -> Result<u64, Errno> {
    Ok(0)
}

/// sync/syncfs: nothing to write back.
pub fn sync<P: Platform>(_: &mut Task<P>, _: [u64; 6]) -> Result<u64, Errno> {
    Ok(0)
}
