//! The host calls of the ptrace platform, as thin typed wrappers: ptrace requests, waits,
//! pidfds and signals. Raw `syscall` is used for ptrace so that `PEEKDATA` has one meaning
//! (the word is stored through `data`), and for the pidfd calls glibc may not wrap.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use abi::x86_64::UserRegs;
use libc::{c_long, c_void, pid_t};

pub type Pid = pid_t;

// ptrace requests and options (<linux/ptrace.h>, x86_64).
const PTRACE_CONT: c_long = 7;
const PTRACE_GETREGS: c_long = 12;
const PTRACE_SETREGS: c_long = 13;
const PTRACE_GETFPREGS: c_long = 14;
const PTRACE_SETFPREGS: c_long = 15;
const PTRACE_PEEKDATA: c_long = 2;
const PTRACE_SYSEMU: c_long = 31;
const PTRACE_SETOPTIONS: c_long = 0x4200;
const PTRACE_GETSIGINFO: c_long = 0x4202;
const PTRACE_GETREGSET: c_long = 0x4204;
const PTRACE_SETREGSET: c_long = 0x4205;
const PTRACE_SEIZE: c_long = 0x4206;
const PTRACE_INTERRUPT: c_long = 0x4207;
pub const PTRACE_O_TRACESYSGOOD: c_long = 1;
pub const PTRACE_O_EXITKILL: c_long = 1 << 20;
/// The event of a stop caused by `PTRACE_INTERRUPT` or a group stop of a seized tracee.
pub const PTRACE_EVENT_STOP: i32 = 128;
/// The regset of the whole XSAVE area.
const NT_X86_XSTATE: c_long = 0x202;
const P_PIDFD: libc::idtype_t = 3;

/// How a waited-for process changed state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitStatus {
    Exited(i32),
    Killed(i32),
    /// A ptrace stop: the signal (`SIGTRAP | 0x80` for syscall-stops) and the
    /// `PTRACE_EVENT_*` in the high bits of the status, 0 for none.
    Stopped {
        sig: i32,
        event: i32,
    },
}

impl std::fmt::Display for WaitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            WaitStatus::Exited(code) => write!(f, "exited with status {code}"),
            WaitStatus::Killed(sig) => write!(f, "was killed by signal {sig}"),
            WaitStatus::Stopped { sig, event } => {
                write!(f, "stopped with signal {sig:#x} event {event}")
            }
        }
    }
}

/// The parts of a `siginfo_t` the platform reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SigInfo {
    pub signo: i32,
    pub code: i32,
    /// `si_addr` (fault signals only).
    pub addr: u64,
    /// `si_pid` (signals sent by a process only).
    pub pid: Pid,
}

fn check(ret: c_long) -> io::Result<c_long> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn ptrace(request: c_long, pid: Pid, addr: usize, data: usize) -> io::Result<c_long> {
    // SAFETY: the raw ptrace system call; every caller below passes, for `addr`/`data`,
    // either plain integers or pointers to memory valid for what that request reads or
    // writes.
    check(unsafe { libc::syscall(libc::SYS_ptrace, request, pid as c_long, addr, data) })
}

pub fn gettid() -> Pid {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() }
}

pub fn getpid() -> Pid {
    // SAFETY: getpid has no preconditions.
    unsafe { libc::getpid() }
}

pub fn getpgid(pid: Pid) -> io::Result<Pid> {
    // SAFETY: getpgid takes a plain integer.
    let ret = unsafe { libc::getpgid(pid) };
    check(ret as c_long).map(|p| p as Pid)
}

pub fn seize(pid: Pid, options: c_long) -> io::Result<()> {
    ptrace(PTRACE_SEIZE, pid, 0, options as usize).map(drop)
}

pub fn interrupt(pid: Pid) -> io::Result<()> {
    ptrace(PTRACE_INTERRUPT, pid, 0, 0).map(drop)
}

pub fn set_options(pid: Pid, options: c_long) -> io::Result<()> {
    ptrace(PTRACE_SETOPTIONS, pid, 0, options as usize).map(drop)
}

/// Resume a stopped tracee, delivering `sig` (0 suppresses the signal of a
/// signal-delivery-stop).
pub fn cont(pid: Pid, sig: i32) -> io::Result<()> {
    ptrace(PTRACE_CONT, pid, 0, sig as usize).map(drop)
}

/// Resume a stopped tracee until its next system call, which is then not executed.
pub fn sysemu(pid: Pid) -> io::Result<()> {
    ptrace(PTRACE_SYSEMU, pid, 0, 0).map(drop)
}

pub fn get_regs(pid: Pid) -> io::Result<UserRegs> {
    const _: () = assert!(size_of::<UserRegs>() == size_of::<libc::user_regs_struct>());
    let mut regs = UserRegs::default();
    ptrace(PTRACE_GETREGS, pid, 0, (&raw mut regs) as usize)?;
    Ok(regs)
}

pub fn set_regs(pid: Pid, regs: &UserRegs) -> io::Result<()> {
    ptrace(PTRACE_SETREGS, pid, 0, std::ptr::from_ref(regs) as usize).map(drop)
}

/// Read the XSAVE area of a stopped tracee into `buf` and return the length used (the
/// legacy 512-byte FXSAVE image on a host without XSAVE).
pub fn get_fpu(pid: Pid, buf: &mut [u8]) -> io::Result<usize> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast::<c_void>(),
        iov_len: buf.len(),
    };
    match ptrace(
        PTRACE_GETREGSET,
        pid,
        NT_X86_XSTATE as usize,
        (&raw mut iov) as usize,
    ) {
        Ok(_) => Ok(iov.iov_len),
        Err(e) if e.raw_os_error() == Some(libc::ENODEV) && buf.len() >= 512 => {
            ptrace(PTRACE_GETFPREGS, pid, 0, buf.as_mut_ptr() as usize)?;
            Ok(512)
        }
        Err(e) => Err(e),
    }
}

/// Load an image read by [`get_fpu`] into a stopped tracee.
pub fn set_fpu(pid: Pid, image: &[u8]) -> io::Result<()> {
    let mut iov = libc::iovec {
        iov_base: image.as_ptr().cast_mut().cast::<c_void>(),
        iov_len: image.len(),
    };
    match ptrace(
        PTRACE_SETREGSET,
        pid,
        NT_X86_XSTATE as usize,
        (&raw mut iov) as usize,
    ) {
        Ok(_) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ENODEV) && image.len() >= 512 => {
            ptrace(PTRACE_SETFPREGS, pid, 0, image.as_ptr() as usize).map(drop)
        }
        Err(e) => Err(e),
    }
}

pub fn get_siginfo(pid: Pid) -> io::Result<SigInfo> {
    let mut info = MaybeUninit::<libc::siginfo_t>::zeroed();
    ptrace(PTRACE_GETSIGINFO, pid, 0, info.as_mut_ptr() as usize)?;
    // SAFETY: zero-initialised and then filled in by the kernel; every bit pattern is a
    // valid siginfo_t.
    let info = unsafe { info.assume_init() };
    // SAFETY: the union fields are plain integers and pointers; reading the fault and the
    // sender views of the same bytes is always defined (unused ones read as garbage the
    // callers ignore for other signal kinds).
    let (addr, pid) = unsafe { (info.si_addr() as u64, info.si_pid()) };
    Ok(SigInfo {
        signo: info.si_signo,
        code: info.si_code,
        addr,
        pid,
    })
}

/// One word of the tracee's memory, `None` where nothing readable is mapped.
pub fn peek(pid: Pid, addr: u64) -> Option<u64> {
    let mut word = 0u64;
    ptrace(
        PTRACE_PEEKDATA,
        pid,
        addr as usize,
        (&raw mut word) as usize,
    )
    .ok()
    .map(|_| word)
}

/// Wait for `pid` (a child or tracee of this thread group) to change state. `EINTR` is
/// returned, not retried: a signal for the waiting thread means "interrupt".
pub fn wait(pid: Pid) -> io::Result<WaitStatus> {
    let mut status = 0;
    // SAFETY: `status` is a valid out-pointer; __WALL also covers children whose exit signal
    // is not SIGCHLD (the stubs).
    let ret = unsafe { libc::waitpid(pid, &mut status, libc::__WALL) };
    check(ret as c_long)?;
    Ok(if libc::WIFEXITED(status) {
        WaitStatus::Exited(libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        WaitStatus::Killed(libc::WTERMSIG(status))
    } else {
        WaitStatus::Stopped {
            sig: libc::WSTOPSIG(status),
            event: (status >> 16) & 0xff,
        }
    })
}

pub fn pidfd_open(pid: Pid) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes plain integers.
    let fd = check(unsafe { libc::syscall(libc::SYS_pidfd_open, pid as c_long, 0) })?;
    // SAFETY: a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Send `sig` to the process behind a pidfd. Takes a raw descriptor so that an
/// interrupter can use one registered by a running context.
pub fn pidfd_signal(pidfd: RawFd, sig: i32) -> io::Result<()> {
    // SAFETY: plain integers and a null siginfo (the kernel fills in SI_USER).
    check(unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd as c_long,
            sig as c_long,
            0usize,
            0usize,
        )
    })
    .map(drop)
}

/// Wait until the process behind `pidfd` has exited and collect it. Ptrace stops that are
/// still reported on the way are consumed; a process already collected elsewhere (or not
/// ours to collect) is fine.
pub fn reap(pidfd: &OwnedFd) {
    loop {
        let mut info = MaybeUninit::<libc::siginfo_t>::zeroed();
        // SAFETY: `info` is a valid out-pointer and the descriptor is open.
        let ret = unsafe {
            libc::waitid(
                P_PIDFD,
                pidfd.as_raw_fd() as libc::id_t,
                info.as_mut_ptr(),
                libc::WEXITED | libc::__WALL,
            )
        };
        if ret < 0 {
            if io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return;
        }
        // SAFETY: zero-initialised and filled in by the kernel.
        let code = unsafe { info.assume_init() }.si_code;
        if matches!(code, libc::CLD_EXITED | libc::CLD_KILLED | libc::CLD_DUMPED) {
            return;
        }
    }
}

/// Send `sig` to a process by pid: only for an unreaped child of ours, whose pid cannot
/// have been reused.
pub fn kill(pid: Pid, sig: i32) -> io::Result<()> {
    // SAFETY: plain integers.
    check(unsafe { libc::kill(pid, sig) } as c_long).map(drop)
}

/// The CPU the calling thread runs on.
pub fn current_cpu() -> Option<usize> {
    // SAFETY: sched_getcpu has no preconditions.
    let cpu = unsafe { libc::sched_getcpu() };
    usize::try_from(cpu).ok()
}

/// Restrict process `pid` to one CPU. By pid: only for a live tracee of the calling thread.
pub fn pin(pid: Pid, cpu: usize) -> io::Result<()> {
    // SAFETY: cpu_set_t is plain bits, valid zeroed; CPU_SET checks the index against the
    // set's size; sched_setaffinity reads the set.
    let ret = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(pid, size_of::<libc::cpu_set_t>(), &set)
    };
    check(ret as c_long).map(drop)
}

/// Block every signal on the calling thread (the stub thread, and so its forks until the
/// stub has reset its dispositions).
pub fn block_all_signals() {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigfillset initialises the set; pthread_sigmask reads it and accepts a null
    // old-set pointer.
    unsafe {
        libc::sigfillset(set.as_mut_ptr());
        libc::pthread_sigmask(libc::SIG_BLOCK, set.as_ptr(), std::ptr::null_mut());
    }
}
