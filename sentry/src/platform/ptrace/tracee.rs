//! Tracees: processes that share a stub's memory and run application code, each traced by
//! one host thread; and running one system call in a stopped stub process.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use abi::x86_64::UserRegs;

use super::address_space::SpaceShared;
use super::error::{Error, Result};
use super::regs::{USER_CS, USER_SS};
use super::stub_asm::Entry;
use super::sys::{self, Pid, SigInfo, WaitStatus};
use super::{STUB_ADDR, STUB_SIZE};

/// One process running application code in a stub's address space, traced by the host
/// thread that seized it. Dropping it kills and reaps it.
pub struct Tracee {
    pid: Pid,
    pidfd: OwnedFd,
    tracer: Pid,
    space: Arc<SpaceShared>,
    /// Seen dead (or killed by us): its pid may belong to someone else now.
    dead: AtomicBool,
    /// The CPU it is pinned to (`usize::MAX`: none yet).
    cpu: AtomicUsize,
}

impl Tracee {
    /// Seize `pid`, a child the stub leader just cloned (parked in `pause`), on the calling
    /// thread, and stop it.
    pub fn seize(pid: Pid, space: Arc<SpaceShared>) -> Result<Tracee> {
        let pidfd = sys::pidfd_open(pid).map_err(|e| match e.raw_os_error() {
            Some(libc::ESRCH) => Error::StubDied {
                pid,
                what: "died before it was seized".to_string(),
            },
            _ => Error::Host {
                op: "pidfd_open",
                source: e,
            },
        })?;
        let tracee = Tracee {
            pid,
            pidfd,
            tracer: sys::gettid(),
            space,
            dead: AtomicBool::new(false),
            cpu: AtomicUsize::new(usize::MAX),
        };
        // The child could have died, been collected and its pid reused before pidfd_open:
        // make sure the process behind the pidfd is one of this stub's.
        if sys::getpgid(pid).ok() != Some(tracee.space.leader) {
            return Err(Error::StubDied {
                pid,
                what: "is not a process of this stub (it died before it was seized)".into(),
            });
        }
        let options = sys::PTRACE_O_EXITKILL | sys::PTRACE_O_TRACESYSGOOD;
        sys::seize(pid, options).map_err(|source| match source.raw_os_error() {
            Some(libc::EPERM) => Error::NotPermitted {
                op: "PTRACE_SEIZE of a new tracee",
                source,
            },
            _ => tracee.fail("PTRACE_SEIZE", source),
        })?;
        sys::interrupt(pid).map_err(|e| tracee.fail("PTRACE_INTERRUPT", e))?;
        loop {
            match tracee.wait()? {
                WaitStatus::Stopped {
                    event: sys::PTRACE_EVENT_STOP,
                    ..
                } => break,
                _ => tracee.resume_suppressing()?,
            }
        }
        let regs = tracee.get_regs()?;
        if !(STUB_ADDR..STUB_ADDR + STUB_SIZE).contains(&regs.rip) {
            return Err(Error::UnexpectedStop {
                pid,
                what: format!(
                    "a new tracee was seized outside the stub, at {:#x}",
                    regs.rip
                ),
            });
        }
        Ok(tracee)
    }

    /// The pidfd, for interrupters while this tracee runs.
    pub fn pidfd(&self) -> RawFd {
        self.pidfd.as_raw_fd()
    }

    /// Whether the calling thread is the one that can make ptrace requests of this tracee.
    pub fn traced_here(&self) -> bool {
        sys::gettid() == self.tracer
    }

    pub fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Acquire)
    }

    /// Usable: alive and its address space not released.
    pub fn is_live(&self) -> bool {
        !self.is_dead() && !self.space.is_released()
    }

    fn alive(&self) -> Result<()> {
        if self.space.is_released() {
            Err(Error::Released)
        } else if self.is_dead() {
            Err(Error::StubDied {
                pid: self.pid,
                what: "is gone".to_string(),
            })
        } else {
            Ok(())
        }
    }

    /// The error for a failed request: the space was released, the tracee is gone, or the
    /// host refused.
    pub fn fail(&self, op: &'static str, source: io::Error) -> Error {
        if self.space.is_released() {
            return Error::Released;
        }
        match source.raw_os_error() {
            Some(libc::ESRCH | libc::ECHILD) => Error::StubDied {
                pid: self.pid,
                what: format!("is gone ({op}: {source})"),
            },
            _ => Error::Host { op, source },
        }
    }

    /// The error for an exit seen by `wait`.
    pub fn died(&self, status: WaitStatus) -> Error {
        self.dead.store(true, Ordering::Release);
        if self.space.is_released() {
            Error::Released
        } else {
            Error::StubDied {
                pid: self.pid,
                what: status.to_string(),
            }
        }
    }

    /// Wait for the next stop; `None` when the wait was interrupted by a signal for this
    /// thread (`EINTR`), which the caller turns into an interrupt.
    pub fn wait_interruptible(&self) -> Result<Option<WaitStatus>> {
        self.alive()?;
        match sys::wait(self.pid) {
            Ok(status @ (WaitStatus::Exited(_) | WaitStatus::Killed(_))) => Err(self.died(status)),
            Ok(status) => Ok(Some(status)),
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => Ok(None),
            Err(e) => Err(self.fail("waitpid", e)),
        }
    }

    /// Wait for the next stop, retrying on `EINTR`.
    pub fn wait(&self) -> Result<WaitStatus> {
        loop {
            if let Some(status) = self.wait_interruptible()? {
                return Ok(status);
            }
        }
    }

    pub fn get_regs(&self) -> Result<UserRegs> {
        self.alive()?;
        sys::get_regs(self.pid).map_err(|e| self.fail("PTRACE_GETREGS", e))
    }

    pub fn set_regs(&self, regs: &UserRegs) -> Result<()> {
        self.alive()?;
        sys::set_regs(self.pid, regs).map_err(|e| match e.raw_os_error() {
            Some(libc::EIO) => Error::BadRegisters("the host rejected them (PTRACE_SETREGS: EIO)"),
            _ => self.fail("PTRACE_SETREGS", e),
        })
    }

    pub fn siginfo(&self) -> Result<SigInfo> {
        self.alive()?;
        sys::get_siginfo(self.pid).map_err(|e| self.fail("PTRACE_GETSIGINFO", e))
    }

    /// Keep the tracee on the CPU its tracer runs on. A stop and a resume are wake-ups
    /// between the two; across CPUs each is an inter-processor interrupt, which costs a
    /// round trip about four times as much on a VM (measured: 9 µs pinned, 10–45 µs not).
    /// The tracer sleeps while the tracee runs, so they do not compete for the CPU; when the
    /// scheduler moves the tracer, the tracee follows at the next switch.
    pub fn follow_tracer_cpu(&self) {
        let Some(cpu) = sys::current_cpu() else {
            return;
        };
        if self.cpu.swap(cpu, Ordering::Relaxed) != cpu && !self.is_dead() {
            // Best effort: a cpuset that forbids it only costs speed.
            let _ = sys::pin(self.pid, cpu);
        }
    }

    /// Run until the next system call (which is then skipped), fault or signal.
    pub fn sysemu(&self) -> Result<()> {
        self.alive()?;
        sys::sysemu(self.pid).map_err(|e| self.fail("PTRACE_SYSEMU", e))
    }

    /// Continue from a stop, dropping its signal if it is a signal-delivery-stop.
    pub fn resume_suppressing(&self) -> Result<()> {
        self.alive()?;
        sys::cont(self.pid, 0).map_err(|e| self.fail("PTRACE_CONT", e))
    }

    /// One word of application memory, if readable.
    pub fn peek(&self, addr: u64) -> Option<u64> {
        sys::peek(self.pid, addr)
    }

    /// The tracee's FPU/vector state, as a regset image.
    pub fn get_fpu(&self) -> Result<Vec<u8>> {
        self.alive()?;
        let mut image = vec![0u8; 1 << 16];
        let len =
            sys::get_fpu(self.pid, &mut image).map_err(|e| self.fail("PTRACE_GETREGSET", e))?;
        image.truncate(len);
        Ok(image)
    }

    pub fn set_fpu(&self, image: &[u8]) -> Result<()> {
        self.alive()?;
        sys::set_fpu(self.pid, image).map_err(|e| self.fail("PTRACE_SETREGSET", e))
    }

    /// Run one system call in this (stopped) tracee; only from its tracing thread.
    pub fn inject(&self, nr: u64, args: [u64; 6]) -> Result<i64> {
        self.alive()?;
        let result = inject(self.pid, Entry::Syscall, nr, args);
        if matches!(result, Err(Error::StubDied { .. })) {
            self.dead.store(true, Ordering::Release);
        }
        result.map_err(|e| match e {
            Error::StubDied { .. } if self.space.is_released() => Error::Released,
            e => e,
        })
    }

    /// Kill the tracee and collect it (from any thread of the sentry).
    pub fn kill_and_reap(&self) {
        if !self.dead.swap(true, Ordering::AcqRel) {
            let _ = sys::pidfd_signal(self.pidfd.as_raw_fd(), libc::SIGKILL);
        }
        sys::reap(&self.pidfd);
    }
}

impl Drop for Tracee {
    fn drop(&mut self) {
        self.kill_and_reap();
    }
}

/// Make the stopped stub process `pid`, traced by the calling thread, run `entry` with system
/// call `nr` and `args`, and return `rax` at the `int3` that ends it. Signals that arrive on
/// the way are dropped (an interrupt stays pending in its context's flag).
pub fn inject(pid: Pid, entry: Entry, nr: u64, args: [u64; 6]) -> Result<i64> {
    let died = |status: WaitStatus| Error::StubDied {
        pid,
        what: status.to_string(),
    };
    let gone = |op: &'static str| {
        move |source: io::Error| match source.raw_os_error() {
            Some(libc::ESRCH | libc::ECHILD) => Error::StubDied {
                pid,
                what: format!("is gone ({op}: {source})"),
            },
            _ => Error::Host { op, source },
        }
    };
    let [rdi, rsi, rdx, r10, r8, r9] = args;
    let regs = UserRegs {
        rip: entry.addr(),
        rax: nr,
        orig_rax: u64::MAX,
        rdi,
        rsi,
        rdx,
        r10,
        r8,
        r9,
        cs: USER_CS,
        ss: USER_SS,
        eflags: 0x202,
        ..UserRegs::default()
    };
    sys::set_regs(pid, &regs).map_err(gone("PTRACE_SETREGS"))?;
    sys::cont(pid, 0).map_err(gone("PTRACE_CONT"))?;
    loop {
        let status = match sys::wait(pid) {
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            other => other.map_err(gone("waitpid"))?,
        };
        match status {
            WaitStatus::Stopped {
                sig: libc::SIGTRAP,
                event: 0,
            } => {
                let regs = sys::get_regs(pid).map_err(gone("PTRACE_GETREGS"))?;
                if regs.rip == entry.done_rip() {
                    return Ok(regs.rax as i64);
                }
                return Err(Error::UnexpectedStop {
                    pid,
                    what: format!("SIGTRAP at {:#x} while running {entry:?}", regs.rip),
                });
            }
            WaitStatus::Stopped {
                sig:
                    sig @ (libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGFPE | libc::SIGSYS),
                event: 0,
            } => {
                let rip = sys::get_regs(pid).map_or(0, |r| r.rip);
                let info = sys::get_siginfo(pid).map_or((0, 0), |i| (i.code, i.addr));
                return Err(Error::UnexpectedStop {
                    pid,
                    what: format!(
                        "signal {sig} (code {}, address {:#x}) at {rip:#x} while running {entry:?}",
                        info.0, info.1
                    ),
                });
            }
            WaitStatus::Stopped { .. } => sys::cont(pid, 0).map_err(gone("PTRACE_CONT"))?,
            status => return Err(died(status)),
        }
    }
}
