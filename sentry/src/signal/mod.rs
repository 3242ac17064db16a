//! Signals: actions per process, masks and pending signals per thread, and delivery.

#[cfg(target_arch = "aarch64")]
mod frame_aarch64;
#[cfg(target_arch = "x86_64")]
mod frame_x86_64;

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use abi::signal::*;
use abi::{SigAction, SigInfo, SigSet, StackT};

#[cfg(target_arch = "aarch64")]
pub use frame_aarch64::{FRAME_AT_SIGRETURN, FRAME_BYTES, build_frame, restore_frame};
#[cfg(target_arch = "x86_64")]
pub use frame_x86_64::{FRAME_AT_SIGRETURN, FRAME_BYTES, build_frame, restore_frame};

/// A little-endian word at `at` of a signal frame being built or read.
fn put(buf: &mut [u8], at: usize, v: u64) {
    buf[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn get(buf: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[at..at + 8]);
    u64::from_le_bytes(b)
}

/// What a signal does when its action is SIG_DFL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Default {
    Terminate,
    /// Terminate "with a core dump": reported as killed by the signal with the core flag.
    Core,
    Ignore,
    /// Job control stops are not supported; treated as ignored.
    Stop,
    Continue,
}

pub fn default_action(sig: i32) -> Default {
    match sig {
        SIGQUIT | SIGILL | SIGTRAP | SIGABRT | SIGBUS | SIGFPE | SIGSEGV | SIGXCPU | SIGXFSZ
        | SIGSYS => Default::Core,
        SIGCHLD | SIGURG | SIGWINCH => Default::Ignore,
        SIGSTOP | SIGTSTP | SIGTTIN | SIGTTOU => Default::Stop,
        SIGCONT => Default::Continue,
        _ => Default::Terminate,
    }
}

/// The actions of a process (shared by its threads, copied by fork).
pub type Actions = Arc<Mutex<[SigAction; 65]>>;

pub fn new_actions() -> Actions {
    Arc::new(Mutex::new([SigAction::default(); 65]))
}

/// A thread's signal state that other threads reach: pending signals and a way to wake it.
pub struct ThreadSignals {
    pub tid: i32,
    pub tgid: i32,
    inner: Mutex<Pending>,
    wake: Condvar,
    /// Kicks the thread out of application code.
    kick: Box<dyn Fn() + Send + Sync>,
}

#[derive(Default)]
pub struct Pending {
    pub queue: Vec<SigInfo>,
    /// Set by a futex wake of this thread.
    pub futex_woken: bool,
    /// Set when a wait queue the thread sleeps on changed.
    pub poked: bool,
    /// The thread must leave (its group is exiting).
    pub killed: bool,
    pub mask: SigSet,
    pub altstack: StackT,
    /// The mask to restore after a sigsuspend-style wait delivered its signal.
    pub saved_mask: Option<SigSet>,
}

impl ThreadSignals {
    pub fn new(tid: i32, tgid: i32, kick: Box<dyn Fn() + Send + Sync>) -> Arc<ThreadSignals> {
        Arc::new(ThreadSignals {
            tid,
            tgid,
            inner: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            kick,
        })
    }

    pub fn lock(&self) -> MutexGuard<'_, Pending> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queue `info` (standard signals do not queue twice) and wake the thread.
    pub fn send(&self, info: SigInfo) {
        let mut p = self.lock();
        let sig = info.si_signo;
        if sig < SIGRTMIN && p.queue.iter().any(|i| i.si_signo == sig) {
            return;
        }
        p.queue.push(info);
        drop(p);
        self.wake.notify_all();
        (self.kick)();
    }

    /// Whether a blocking wait must end: a signal the thread does not block is pending, or
    /// the thread must exit.
    pub fn has_deliverable(&self) -> bool {
        let p = self.lock();
        p.killed || p.queue.iter().any(|i| !p.mask.contains(i.si_signo))
    }

    /// Make the thread leave whatever it is doing (its group exits).
    pub fn kill(&self) {
        self.lock().killed = true;
        self.wake.notify_all();
        (self.kick)();
    }

    pub fn killed(&self) -> bool {
        self.lock().killed
    }

    pub fn clear_poke(&self) {
        self.lock().poked = false;
    }

    /// Wake the thread from a wait-queue sleep.
    pub fn poke(&self) {
        self.lock().poked = true;
        self.wake.notify_all();
    }

    /// Sleep until poked, a signal, or `deadline`.
    pub fn wait_poke(&self, deadline: Option<Instant>) -> Wake {
        self.wait_for(deadline, |p| p.poked)
    }

    /// Wake the thread from a futex wait.
    pub fn futex_wake(&self) {
        self.lock().futex_woken = true;
        self.wake.notify_all();
    }

    /// Sleep until a futex wake, a signal, or `deadline`.
    pub fn wait_futex(&self, deadline: Option<Instant>) -> Wake {
        self.wait_for(deadline, |p| p.futex_woken)
    }

    /// Take the first pending signal not blocked by the mask.
    pub fn dequeue(&self) -> Option<SigInfo> {
        let mut p = self.lock();
        let mask = p.mask;
        let i = p.queue.iter().position(|i| !mask.contains(i.si_signo))?;
        Some(p.queue.remove(i))
    }

    /// Sleep until `woken` holds (Woken), a deliverable signal or exit request (Interrupted),
    /// or `deadline` (TimedOut).
    fn wait_for(&self, deadline: Option<Instant>, woken: impl Fn(&Pending) -> bool) -> Wake {
        let mut p = self.lock();
        loop {
            if woken(&p) {
                return Wake::Woken;
            }
            if p.killed || p.queue.iter().any(|i| !p.mask.contains(i.si_signo)) {
                return Wake::Interrupted;
            }
            match deadline {
                None => p = self.wake.wait(p).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return Wake::TimedOut;
                    }
                    p = self
                        .wake
                        .wait_timeout(p, d - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
    }

    /// Sleep until a deliverable signal is pending or `deadline` passes; true if a signal
    /// ended the sleep.
    pub fn sleep(&self, deadline: Option<Instant>) -> bool {
        self.wait_for(deadline, |_| false) == Wake::Interrupted
    }
}

/// Why a futex wait ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    Woken,
    TimedOut,
    Interrupted,
}

/// A pending alarm of a process.
#[derive(Default)]
pub struct Alarm {
    pub generation: u64,
    pub due: Option<Instant>,
    /// Re-arm period (setitimer's it_interval); zero for one-shot.
    pub interval: std::time::Duration,
}
