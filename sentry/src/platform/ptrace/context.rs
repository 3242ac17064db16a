//! Contexts: `switch` loads the application's registers into the context's tracee in the
//! address space, resumes it with `PTRACE_SYSEMU` and decodes the stop.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use abi::x86_64::UserRegs;

use super::address_space::AddressSpace;
use super::error::{Error, Result};
use super::regs;
use super::stats::Stats;
use super::sys::{self, Pid, WaitStatus};
use super::tracee::Tracee;
use super::trap;
use crate::platform::Trap;

/// The signal that interrupts a running tracee. Nothing else sends it to a stub process
/// (no sockets, no terminal), and if it were ever delivered it would be ignored.
const INTERRUPT_SIGNAL: i32 = libc::SIGURG;

/// A syscall-stop with `PTRACE_O_TRACESYSGOOD`.
const SYSCALL_STOP: i32 = libc::SIGTRAP | 0x80;

/// An application thread's execution context on the ptrace platform. It is bound to the host
/// thread that first switches it (see the module docs).
pub struct Context {
    thread: Option<Pid>,
    /// This context's tracee in each address space it has entered.
    tracees: Vec<(u64, Arc<Tracee>)>,
    /// The tracee that ran last: it holds the context's FPU state.
    last: Option<Arc<Tracee>>,
    shared: Arc<Shared>,
    /// This process, to recognise the interrupt signals we sent.
    sentry: Pid,
    stats: Arc<Stats>,
}

/// Lets another thread kick a context out of application code.
#[derive(Clone)]
pub struct Interrupter(Arc<Shared>);

#[derive(Default)]
struct Shared {
    pending: AtomicBool,
    /// The pidfd of the tracee while `switch` runs it.
    running: Mutex<Option<RawFd>>,
}

impl Shared {
    fn set_running(&self, pidfd: Option<RawFd>) {
        *self.running.lock().unwrap_or_else(|e| e.into_inner()) = pidfd;
    }
}

impl Default for Context {
    fn default() -> Context {
        Context::new()
    }
}

impl Context {
    pub fn new() -> Context {
        Context::with_stats(Arc::default())
    }

    /// A context counting its stops in `stats` (the platform's).
    pub(super) fn with_stats(stats: Arc<Stats>) -> Context {
        Context {
            thread: None,
            tracees: Vec::new(),
            last: None,
            shared: Arc::default(),
            sentry: sys::getpid(),
            stats,
        }
    }

    /// A handle other threads use to interrupt this context.
    pub fn interrupter(&self) -> Interrupter {
        Interrupter(self.shared.clone())
    }

    /// Run the application with `regs` in `space` until it traps; `regs` then holds its
    /// state at the trap.
    pub fn switch(&mut self, regs: &mut UserRegs, space: &AddressSpace) -> Result<Trap> {
        let tid = sys::gettid();
        match self.thread {
            Some(bound) if bound != tid => {
                return Err(Error::WrongThread {
                    bound,
                    current: tid,
                });
            }
            Some(_) => {}
            None => self.thread = Some(tid),
        }
        if space.is_released() {
            return Err(Error::Released);
        }
        let tracee = self.tracee(space)?;
        if let Some(last) = self.last.replace(tracee.clone())
            && !Arc::ptr_eq(&last, &tracee)
            && last.is_live()
        {
            regs::move_fpu(&last, &tracee)?;
        }
        if self.shared.pending.swap(false, Ordering::AcqRel) {
            return Ok(Trap::Interrupted);
        }
        tracee.set_regs(&regs::for_tracee(regs)?)?;
        self.shared.set_running(Some(tracee.pidfd()));
        // An interrupt that came before we registered found nothing to signal.
        let result = if self.shared.pending.swap(false, Ordering::AcqRel) {
            Ok(Trap::Interrupted)
        } else {
            self.run(&tracee, regs)
        };
        self.shared.set_running(None);
        result
    }

    /// This context's tracee in `space`, seized now if it has none yet. Tracees of released
    /// spaces (and dead ones) are dropped on the way.
    fn tracee(&mut self, space: &AddressSpace) -> Result<Arc<Tracee>> {
        self.tracees.retain(|(_, t)| t.is_live());
        if self.last.as_ref().is_some_and(|t| !t.is_live()) {
            self.last = None;
        }
        if let Some((_, t)) = self.tracees.iter().find(|(id, _)| *id == space.id()) {
            return Ok(t.clone());
        }
        let tracee = space.new_tracee()?;
        self.tracees.push((space.id(), tracee.clone()));
        Ok(tracee)
    }

    fn run(&self, tracee: &Tracee, regs: &mut UserRegs) -> Result<Trap> {
        tracee.follow_tracer_cpu();
        tracee.sysemu()?;
        loop {
            let Some(status) = tracee.wait_interruptible()? else {
                // A signal for this thread: stop the application and report an interrupt.
                sys::pidfd_signal(tracee.pidfd(), INTERRUPT_SIGNAL)
                    .map_err(|e| tracee.fail("pidfd_send_signal", e))?;
                continue;
            };
            self.stats.stop();
            match status {
                WaitStatus::Stopped {
                    sig: SYSCALL_STOP, ..
                } => {
                    *regs = tracee.get_regs()?;
                    return Ok(Trap::Syscall);
                }
                WaitStatus::Stopped { sig, event: 0 } => {
                    let info = tracee.siginfo()?;
                    if sig == INTERRUPT_SIGNAL && info.code <= 0 && info.pid == self.sentry {
                        *regs = tracee.get_regs()?;
                        self.shared.pending.store(false, Ordering::Release);
                        return Ok(Trap::Interrupted);
                    }
                    let state = tracee.get_regs()?;
                    if let Some(trap) = trap::from_signal(&info, &state, |a| tracee.peek(a)) {
                        *regs = state;
                        return Ok(trap);
                    }
                    // Anything else (a stop signal, a signal from another process) is
                    // dropped; resuming with PTRACE_SYSEMU does not deliver it.
                }
                // Group-stop or PTRACE_INTERRUPT stops, and exits (reported by `wait`).
                _ => {}
            }
            tracee.sysemu()?;
        }
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        self.last = None;
        // Dropping the last reference to each tracee kills and reaps it.
        self.tracees.clear();
    }
}

impl Interrupter {
    /// Make the context's current or next `switch` return [`Trap::Interrupted`] promptly.
    pub fn interrupt(&self) {
        self.0.pending.store(true, Ordering::Release);
        let running = self.0.running.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pidfd) = *running {
            // The descriptor stays open while registered: the switch holds its tracee and
            // unregisters under this lock before letting go of it.
            let _ = sys::pidfd_signal(pidfd, INTERRUPT_SIGNAL);
        }
    }
}
