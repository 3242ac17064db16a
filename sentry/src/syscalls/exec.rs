//! New processes and programs: clone/fork/vfork, execve, wait4.

use std::sync::{Arc, Mutex};

use abi::Errno;
use abi::flags::CloneFlags;

use super::int;
use crate::exec::{self, ExecArgs};
use crate::mm::MemoryManager;
use crate::platform::Platform;
use crate::task::{Task, VforkDone, WaitFor};

/// Longest path (PATH_MAX) and argument string (MAX_ARG_STRLEN).
const PATH_MAX: usize = 4096;
const MAX_ARG_STRLEN: usize = 32 * 4096;
/// Most argv + envp entries (Linux's MAX_ARG_STRINGS).
const MAX_ARG_STRINGS: usize = 0x7fff_ffff;

#[cfg(target_arch = "x86_64")]
pub fn fork<P: Platform>(task: &mut Task<P>, _: [u64; 6]) -> Result<u64, Errno> {
    clone_process(task, CloneFlags::empty(), 0, 0, 0, 0)
}

#[cfg(target_arch = "x86_64")]
pub fn vfork<P: Platform>(task: &mut Task<P>, _: [u64; 6]) -> Result<u64, Errno> {
    clone_process(task, CloneFlags::VM | CloneFlags::VFORK, 0, 0, 0, 0)
}

/// `clone(flags, stack, parent_tid, child_tid, tls)` (the x86_64 argument order).
pub fn clone<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let flags = CloneFlags::from_bits_retain(a[0] & !0xff);
    #[cfg(target_arch = "x86_64")]
    let (ptid, ctid, tls) = (a[2], a[3], a[4]);
    #[cfg(target_arch = "aarch64")]
    let (ptid, tls, ctid) = (a[2], a[3], a[4]);
    clone_process(task, flags, a[1], ptid, ctid, tls)
}

fn clone_process<P: Platform>(
    task: &mut Task<P>,
    flags: CloneFlags,
    stack: u64,
    ptid: u64,
    ctid: u64,
    tls: u64,
) -> Result<u64, Errno> {
    if flags.contains(CloneFlags::THREAD) {
        return clone_thread(task, flags, stack, ptid, ctid, tls);
    }
    let mm = if flags.contains(CloneFlags::VM) {
        task.mm.clone()
    } else {
        Arc::new(Mutex::new(task.mm().fork()?))
    };
    let mut regs = task.regs;
    regs.set_return(0);
    if stack != 0 {
        crate::arch::set_sp(&mut regs, stack);
    }
    if flags.contains(CloneFlags::SETTLS) {
        crate::arch::set_tls(&mut regs, tls);
    }
    let fds = if flags.contains(CloneFlags::FILES) {
        task.fds.clone()
    } else {
        Arc::new(task.fds.fork())
    };
    let fs = if flags.contains(CloneFlags::FS) {
        task.fs.clone()
    } else {
        Arc::new(Mutex::new(task.fs().clone()))
    };
    let mut child = Task::new_process(task.kernel.clone(), task.tgid, mm, regs, fds, fs);
    *child.group.limits() = *task.group.limits();
    child.proc.inherit(&task.proc);
    // The child starts with copies of the parent's actions and mask.
    let actions = *task.actions.lock().unwrap_or_else(|e| e.into_inner());
    *child.actions.lock().unwrap_or_else(|e| e.into_inner()) = actions;
    child.signals.lock().mask = task.signals.lock().mask;
    let pid = child.tid;
    if flags.contains(CloneFlags::CHILD_SETTID) {
        child.mm().copy_out(ctid, &pid.to_le_bytes())?;
    }
    if flags.contains(CloneFlags::PARENT_SETTID) {
        task.copy_out(ptid, &pid.to_le_bytes())?;
    }
    if flags.contains(CloneFlags::CHILD_CLEARTID) {
        child.clear_child_tid = ctid;
    }
    let vfork = flags
        .contains(CloneFlags::VFORK)
        .then(|| Arc::new(VforkDone::default()));
    child.vfork_done = vfork.clone();
    child.spawn().map_err(|_| Errno::EAGAIN)?;
    if let Some(done) = vfork {
        done.wait();
    }
    Ok(pid as u64)
}

/// A new thread of the caller's process.
fn clone_thread<P: Platform>(
    task: &mut Task<P>,
    flags: CloneFlags,
    stack: u64,
    ptid: u64,
    ctid: u64,
    tls: u64,
) -> Result<u64, Errno> {
    // Linux requires threads to share memory and signal handlers.
    if !flags.contains(CloneFlags::VM | CloneFlags::SIGHAND) {
        return Err(Errno::EINVAL);
    }
    let mut regs = task.regs;
    regs.set_return(0);
    if stack != 0 {
        crate::arch::set_sp(&mut regs, stack);
    }
    if flags.contains(CloneFlags::SETTLS) {
        crate::arch::set_tls(&mut regs, tls);
    }
    let mut child = task.new_thread(regs);
    let tid = child.tid;
    if flags.contains(CloneFlags::CHILD_SETTID) {
        child.copy_out(ctid, &tid.to_le_bytes())?;
    }
    if flags.contains(CloneFlags::PARENT_SETTID) {
        task.copy_out(ptid, &tid.to_le_bytes())?;
    }
    if flags.contains(CloneFlags::CHILD_CLEARTID) {
        child.clear_child_tid = ctid;
    }
    child.spawn().map_err(|_| Errno::EAGAIN)?;
    Ok(tid as u64)
}

/// A NULL-terminated array of string pointers.
fn string_array<P: Platform>(task: &Task<P>, addr: u64) -> Result<Vec<Vec<u8>>, Errno> {
    let mut out = Vec::new();
    if addr == 0 {
        return Ok(out);
    }
    for i in 0..MAX_ARG_STRINGS as u64 {
        let mut ptr = [0u8; 8];
        task.copy_in(addr + 8 * i, &mut ptr)?;
        let ptr = u64::from_le_bytes(ptr);
        if ptr == 0 {
            return Ok(out);
        }
        out.push(
            task.mm()
                .copy_in_cstring(ptr, MAX_ARG_STRLEN)
                .map_err(|e| {
                    if e == Errno::ENAMETOOLONG {
                        Errno::E2BIG
                    } else {
                        e
                    }
                })?,
        );
    }
    Err(Errno::E2BIG)
}

pub fn execve<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let path = task.mm().copy_in_cstring(a[0], PATH_MAX)?;
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    let argv = string_array(task, a[1])?;
    let envp = string_array(task, a[2])?;
    let kernel = task.kernel.clone();
    let ctx = task.fs().clone();
    let image = exec::open_executable(&kernel.vfs, &ctx, &path)?;
    let mut mm = MemoryManager::new(kernel.platform.clone(), kernel.frames.clone())?;
    let open_interp = |p: &str| exec::open_executable(&kernel.vfs, &ctx, p.as_bytes());
    let regs = exec::load(
        &mut mm,
        image,
        &ExecArgs {
            argv: &argv,
            envp: &envp,
            execfn: &path,
            open_interp: &open_interp,
        },
    )?;
    // Past this point exec cannot fail: the old image is gone.
    task.mm = Arc::new(Mutex::new(mm));
    let exe = exec::resolved_path(&kernel.vfs, &ctx, &path);
    task.proc.exec(&task.mm, &exe, &argv, &path);
    // The thread's own name gives way to the new program's.
    task.comm = [0; 16];
    task.regs = regs;
    // Handlers point into the old image: they become SIG_DFL; ignored signals stay ignored.
    for action in task
        .actions
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter_mut()
    {
        if action.handler != abi::signal::SIG_IGN {
            *action = abi::SigAction::default();
        }
    }
    task.signals.lock().altstack = abi::StackT::default();
    task.fds.close_on_exec();
    if let Some(done) = task.vfork_done.take() {
        done.release();
    }
    Ok(0)
}

/// `wait4(pid, wstatus, options, rusage)`.
pub fn wait4<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    const WNOHANG: u64 = 1;
    const VALID: u64 = 1 | 2 | 8 | 0x2000_0000 | 0x4000_0000 | 0x8000_0000;
    if a[2] & !VALID != 0 {
        return Err(Errno::EINVAL);
    }
    let pid = int(a[0]);
    // Process groups are not tracked yet: a group wait waits for any child.
    let which = if pid > 0 {
        WaitFor::Pid(pid)
    } else {
        WaitFor::Any
    };
    let kernel = task.kernel.clone();
    let signals = task.signals.clone();
    let interrupted = move || signals.has_deliverable();
    match kernel
        .processes
        .wait(task.tgid, which, a[2] & WNOHANG != 0, &interrupted)?
    {
        None => Ok(0),
        Some((child, status)) => {
            if a[1] != 0 {
                task.copy_out(a[1], &status.wait_status().to_le_bytes())?;
            }
            if a[3] != 0 {
                task.copy_out(a[3], &[0u8; 144])?;
            }
            Ok(child as u64)
        }
    }
}

/// `waitid(idtype, id, infop, options, rusage)`: P_ALL and P_PID, WEXITED (WNOWAIT is not
/// supported: the child is always reaped).
pub fn waitid<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    const P_ALL: u64 = 0;
    const P_PID: u64 = 1;
    const P_PGID: u64 = 2;
    const WNOHANG: u64 = 1;
    const WEXITED: u64 = 4;
    const WNOWAIT: u64 = 0x0100_0000;
    let options = a[3];
    if options & WEXITED == 0 || options & WNOWAIT != 0 {
        return Err(Errno::EINVAL);
    }
    let which = match a[0] {
        P_ALL | P_PGID => WaitFor::Any,
        P_PID if (a[1] as i32) > 0 => WaitFor::Pid(a[1] as i32),
        _ => return Err(Errno::EINVAL),
    };
    let kernel = task.kernel.clone();
    let signals = task.signals.clone();
    let interrupted = move || signals.has_deliverable();
    let reaped = kernel
        .processes
        .wait(task.tgid, which, options & WNOHANG != 0, &interrupted)?;
    if a[2] != 0 {
        let info = match reaped {
            None => abi::SigInfo::default(),
            Some((pid, status)) => {
                let (code, value) = match status {
                    crate::task::ExitStatus::Exited(c) => (abi::signal::CLD_EXITED, c),
                    crate::task::ExitStatus::Signaled(s) => (abi::signal::CLD_KILLED, s),
                };
                abi::SigInfo::child(code, pid, 0, value, 0, 0)
            }
        };
        task.copy_out(a[2], &info.to_bytes())?;
    }
    Ok(0)
}
