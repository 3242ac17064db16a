//! Identity, scheduling and resource calls: the sandbox runs as root of its own user
//! namespace, on an ordinary time-sharing scheduler.

use abi::Errno;

use super::int;
use crate::platform::Platform;
use crate::task::Task;

/// getresuid/getresgid: real, effective and saved ids, all 0.
pub fn getres<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    for addr in &a[..3] {
        task.copy_out(*addr, &0u32.to_le_bytes())?;
    }
    Ok(0)
}

/// getgroups: no supplementary groups.
pub fn getgroups<P: Platform>(_: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    if (a[0] as i32) < 0 {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

/// Changing ids: root may; the sandbox keeps running as root (ids are not tracked per task).
pub fn set_ids<P: Platform>(_: &mut Task<P>, _: [u64; 6]) -> Result<u64, Errno> {
    Ok(0)
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
