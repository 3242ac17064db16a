//! Signal syscalls: actions, masks, sending, waiting, alarm, and return from handlers.

use abi::signal::*;
use abi::{Errno, SigAction, SigInfo, SigSet, StackT};

use super::int;
use crate::platform::Platform;
use crate::task::Task;

const SIGSET_SIZE: u64 = 8;
/// The restart errno of a wait that only a handler may end (pause, sigsuspend).
const ERESTARTNOHAND: i32 = 514;

fn valid(sig: i32) -> Result<(), Errno> {
    if (1..=64).contains(&sig) {
        Ok(())
    } else {
        Err(Errno::EINVAL)
    }
}

fn read_u64<P: Platform>(task: &Task<P>, addr: u64) -> Result<u64, Errno> {
    let mut b = [0u8; 8];
    task.copy_in(addr, &mut b)?;
    Ok(u64::from_le_bytes(b))
}

/// `rt_sigaction(sig, act, oldact, sigsetsize)`.
pub fn rt_sigaction<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let sig = int(a[0]);
    valid(sig)?;
    if a[3] != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let new = if a[1] != 0 {
        if sig == SIGKILL || sig == SIGSTOP {
            return Err(Errno::EINVAL);
        }
        let mut b = [0u8; 32];
        task.copy_in(a[1], &mut b)?;
        let word =
            |i: usize| u64::from_le_bytes(b[8 * i..8 * i + 8].try_into().unwrap_or_default());
        Some(SigAction {
            handler: word(0),
            flags: word(1),
            restorer: word(2),
            mask: word(3) & !SigSet::UNBLOCKABLE.bits(),
        })
    } else {
        None
    };
    let old = {
        let mut actions = task.actions.lock().unwrap_or_else(|e| e.into_inner());
        let old = actions[sig as usize];
        if let Some(new) = new {
            actions[sig as usize] = new;
        }
        old
    };
    if a[2] != 0 {
        let mut b = [0u8; 32];
        for (i, w) in [old.handler, old.flags, old.restorer, old.mask]
            .iter()
            .enumerate()
        {
            b[8 * i..8 * i + 8].copy_from_slice(&w.to_le_bytes());
        }
        task.copy_out(a[2], &b)?;
    }
    Ok(0)
}

/// `rt_sigprocmask(how, set, oldset, sigsetsize)`.
pub fn rt_sigprocmask<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    const SIG_BLOCK: u64 = 0;
    const SIG_UNBLOCK: u64 = 1;
    const SIG_SETMASK: u64 = 2;
    if a[3] != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let set = if a[1] != 0 {
        Some(read_u64(task, a[1])?)
    } else {
        None
    };
    let old = task.signals.lock().mask;
    if let Some(set) = set {
        let new = match a[0] {
            SIG_BLOCK => old.bits() | set,
            SIG_UNBLOCK => old.bits() & !set,
            SIG_SETMASK => set,
            _ => return Err(Errno::EINVAL),
        };
        task.signals.lock().mask = SigSet::from_bits(new & !SigSet::UNBLOCKABLE.bits());
    }
    if a[2] != 0 {
        task.copy_out(a[2], &old.bits().to_le_bytes())?;
    }
    Ok(0)
}

pub fn rt_sigpending<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    if a[1] != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let mut set = SigSet::EMPTY;
    for info in &task.signals.lock().queue {
        set.add(info.si_signo);
    }
    task.copy_out(a[0], &set.bits().to_le_bytes())?;
    Ok(0)
}

/// `rt_sigreturn()`: back from a handler to the state its frame saved.
pub fn rt_sigreturn<P: Platform>(task: &mut Task<P>, _: [u64; 6]) -> Result<u64, Errno> {
    let frame_addr =
        crate::exec::stack_pointer(&task.regs).wrapping_sub(crate::signal::FRAME_AT_SIGRETURN);
    let mut frame = vec![0u8; crate::signal::FRAME_BYTES as usize];
    if task.copy_in(frame_addr, &mut frame).is_err() {
        task.force_signal(SigInfo::fault(SIGSEGV, 0x80, 0));
        return Ok(task.regs.return_value());
    }
    let (regs, mask) = crate::signal::restore_frame(&frame, &task.regs)?;
    task.regs = regs;
    task.signals.lock().mask = SigSet::from_bits(mask.bits() & !SigSet::UNBLOCKABLE.bits());
    // The return value is the restored RAX (x0), so the interrupted code sees its own.
    Ok(task.regs.return_value())
}

/// `kill(pid, sig)`: process groups are not tracked, so 0 and negative pids mean the
/// caller's own process (-1: every process but the first).
pub fn kill<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let (pid, sig) = (int(a[0]), int(a[1]));
    if sig != 0 {
        valid(sig)?;
    }
    let kernel = task.kernel.clone();
    let targets: Vec<i32> = match pid {
        p if p > 0 => vec![p],
        -1 => kernel
            .process_ids()
            .into_iter()
            .filter(|&p| p != kernel.init_pid() || p == task.tgid)
            .collect(),
        _ => vec![task.tgid],
    };
    let mut found = false;
    for target in targets {
        if sig == 0 {
            found |= kernel.process_exists(target);
        } else {
            found |= kernel.signal_process(target, SigInfo::kill(sig, task.tgid, 0));
        }
    }
    if found { Ok(0) } else { Err(Errno::ESRCH) }
}

fn signal_thread<P: Platform>(
    task: &Task<P>,
    tgid: Option<i32>,
    tid: i32,
    sig: i32,
) -> Result<u64, Errno> {
    if tid <= 0 || tgid.is_some_and(|g| g <= 0) {
        return Err(Errno::EINVAL);
    }
    if sig != 0 {
        valid(sig)?;
    }
    let thread = task.kernel.thread(tid).ok_or(Errno::ESRCH)?;
    if tgid.is_some_and(|g| g != thread.tgid) {
        return Err(Errno::ESRCH);
    }
    if sig != 0 {
        let mut info = SigInfo::kill(sig, task.tgid, 0);
        info.si_code = SI_TKILL;
        thread.send(info);
        task.kernel.processes.wake_all();
    }
    Ok(0)
}

pub fn tgkill<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    signal_thread(task, Some(int(a[0])), int(a[1]), int(a[2]))
}

pub fn tkill<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    signal_thread(task, None, int(a[0]), int(a[1]))
}

/// `sigaltstack(ss, old_ss)`.
pub fn sigaltstack<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    const SS_ONSTACK: i32 = 1;
    const SS_DISABLE: i32 = 2;
    const MINSIGSTKSZ: u64 = 2048;
    let current = task.signals.lock().altstack;
    let rsp = crate::exec::stack_pointer(&task.regs);
    let on = current.ss_size != 0 && rsp > current.ss_sp && rsp <= current.ss_sp + current.ss_size;
    if a[1] != 0 {
        let mut old = current;
        old.ss_flags = if current.ss_size == 0 {
            SS_DISABLE
        } else if on {
            SS_ONSTACK
        } else {
            0
        };
        let mut b = [0u8; 24];
        b[..8].copy_from_slice(&old.ss_sp.to_le_bytes());
        b[8..12].copy_from_slice(&old.ss_flags.to_le_bytes());
        b[16..].copy_from_slice(&old.ss_size.to_le_bytes());
        task.copy_out(a[1], &b)?;
    }
    if a[0] != 0 {
        let mut b = [0u8; 24];
        task.copy_in(a[0], &mut b)?;
        let ss_sp = u64::from_le_bytes(b[..8].try_into().unwrap_or_default());
        let ss_flags = i32::from_le_bytes(b[8..12].try_into().unwrap_or_default());
        let ss_size = u64::from_le_bytes(b[16..].try_into().unwrap_or_default());
        if on {
            return Err(Errno::EPERM);
        }
        let new = if ss_flags == SS_DISABLE {
            StackT::default()
        } else if ss_flags & !(1 << 31) != 0 {
            return Err(Errno::EINVAL);
        } else if ss_size < MINSIGSTKSZ {
            return Err(Errno::ENOMEM);
        } else {
            StackT {
                ss_sp,
                ss_size,
                ..StackT::default()
            }
        };
        task.signals.lock().altstack = new;
    }
    Ok(0)
}

/// `pause()`: sleep until a signal is delivered.
#[cfg(target_arch = "x86_64")]
pub fn pause<P: Platform>(task: &mut Task<P>, _: [u64; 6]) -> Result<u64, Errno> {
    task.signals.sleep(None);
    Err(Errno::new(ERESTARTNOHAND))
}

/// `rt_sigsuspend(mask, sigsetsize)`.
pub fn rt_sigsuspend<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    if a[1] != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let mask = read_u64(task, a[0])?;
    {
        let mut p = task.signals.lock();
        p.saved_mask = Some(p.mask);
        p.mask = SigSet::from_bits(mask & !SigSet::UNBLOCKABLE.bits());
    }
    task.signals.sleep(None);
    Err(Errno::new(ERESTARTNOHAND))
}

/// Arm the process's real-time timer (alarm and ITIMER_REAL share it): SIGALRM after
/// `value`, then every `interval` if that is not zero; zero `value` disarms it. Returns what
/// was left of the previous arming and its interval.
fn arm_timer<P: Platform>(
    task: &Task<P>,
    value: std::time::Duration,
    interval: std::time::Duration,
) -> Result<(std::time::Duration, std::time::Duration), Errno> {
    use std::time::Instant;
    let mut alarm = task.alarm.lock().unwrap_or_else(|e| e.into_inner());
    let old = (
        alarm.due.map_or_else(Default::default, |d| {
            d.saturating_duration_since(Instant::now())
        }),
        alarm.interval,
    );
    alarm.generation += 1;
    alarm.due = None;
    alarm.interval = interval;
    if value.is_zero() {
        return Ok(old);
    }
    let first = Instant::now() + value;
    alarm.due = Some(first);
    let generation = alarm.generation;
    let (kernel, pid, timer) = (task.kernel.clone(), task.tgid, task.alarm.clone());
    std::thread::Builder::new()
        .name("itimer".into())
        .spawn(move || {
            let mut due = first;
            loop {
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
                let mut alarm = timer.lock().unwrap_or_else(|e| e.into_inner());
                if alarm.generation != generation {
                    return;
                }
                let interval = alarm.interval;
                alarm.due = (!interval.is_zero()).then(|| due + interval);
                drop(alarm);
                let mut info = SigInfo::kill(SIGALRM, 0, 0);
                info.si_code = SI_KERNEL;
                if !kernel.signal_process(pid, info) || interval.is_zero() {
                    return;
                }
                due += interval;
            }
        })
        .map_err(|_| Errno::EAGAIN)?;
    Ok(old)
}

/// `alarm(seconds)`: SIGALRM to the process after that long; returns what was left of the
/// previous alarm.
#[cfg(target_arch = "x86_64")]
pub fn alarm<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let secs = std::time::Duration::from_secs(u64::from(a[0] as u32));
    let (left, _) = arm_timer(task, secs, std::time::Duration::ZERO)?;
    if left.is_zero() {
        return Ok(0);
    }
    Ok((left.as_secs() + u64::from(left.subsec_nanos() >= 500_000_000)).max(1))
}

const ITIMER_REAL: u64 = 0;

fn read_timeval<P: Platform>(task: &Task<P>, addr: u64) -> Result<std::time::Duration, Errno> {
    let mut b = [0u8; 16];
    task.copy_in(addr, &mut b)?;
    let sec = i64::from_le_bytes(b[..8].try_into().unwrap_or_default());
    let usec = i64::from_le_bytes(b[8..].try_into().unwrap_or_default());
    if sec < 0 || !(0..1_000_000).contains(&usec) {
        return Err(Errno::EINVAL);
    }
    Ok(std::time::Duration::new(sec as u64, usec as u32 * 1000))
}

fn itimerval(value: std::time::Duration, interval: std::time::Duration) -> [u8; 32] {
    let mut b = [0u8; 32];
    for (at, d) in [(0, interval), (16, value)] {
        b[at..at + 8].copy_from_slice(&(d.as_secs() as i64).to_le_bytes());
        b[at + 8..at + 16].copy_from_slice(&i64::from(d.subsec_micros()).to_le_bytes());
    }
    b
}

/// `setitimer(which, new, old)`: ITIMER_REAL. The virtual and profiling timers count CPU
/// time, which the sentry does not account yet: they are refused with EINVAL.
pub fn setitimer<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    if a[0] != ITIMER_REAL {
        return Err(Errno::EINVAL);
    }
    let (interval, value) = if a[1] == 0 {
        (std::time::Duration::ZERO, std::time::Duration::ZERO)
    } else {
        (read_timeval(task, a[1])?, read_timeval(task, a[1] + 16)?)
    };
    let (left, old_interval) = arm_timer(task, value, interval)?;
    if a[2] != 0 {
        task.copy_out(a[2], &itimerval(left, old_interval))?;
    }
    Ok(0)
}

pub fn getitimer<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    if a[0] != ITIMER_REAL {
        return Err(Errno::EINVAL);
    }
    let (left, interval) = {
        let alarm = task.alarm.lock().unwrap_or_else(|e| e.into_inner());
        let now = std::time::Instant::now();
        (
            alarm
                .due
                .map_or_else(Default::default, |d| d.saturating_duration_since(now)),
            alarm.interval,
        )
    };
    task.copy_out(a[1], &itimerval(left, interval))?;
    Ok(0)
}
