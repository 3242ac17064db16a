//! Syscall numbers to handlers, per architecture.

use super::{Handler, exec, file, futex, info, mm, process, signal, time};
use crate::platform::Platform;

#[cfg(target_arch = "aarch64")]
use abi::syscalls::aarch64 as arch;
#[cfg(target_arch = "x86_64")]
use abi::syscalls::x86_64 as arch;

pub fn name(nr: u32) -> Option<&'static str> {
    arch::name(nr)
}

pub fn is_sigreturn(nr: u32) -> bool {
    nr == arch::nr::RT_SIGRETURN
}

/// The handler for `nr`, if the sentry implements it.
pub fn handler<P: Platform>(nr: u32) -> Option<Handler<P>> {
    use arch::nr::*;
    let h: Handler<P> = match nr {
        READ => file::read,
        WRITE => file::write,
        READV => file::readv,
        WRITEV => file::writev,
        CLOSE => file::close,
        IOCTL => file::ioctl,
        BRK => mm::brk,
        MMAP => mm::mmap,
        MUNMAP => mm::munmap,
        MPROTECT => mm::mprotect,
        MADVISE => mm::madvise,
        CLONE => exec::clone,
        FUTEX => futex::futex,
        EXECVE => exec::execve,
        WAIT4 => exec::wait4,
        #[cfg(target_arch = "x86_64")]
        FORK => exec::fork,
        #[cfg(target_arch = "x86_64")]
        VFORK => exec::vfork,
        EXIT => process::exit,
        EXIT_GROUP => process::exit_group,
        GETPID => process::getpid,
        GETTID => process::gettid,
        GETPPID => process::getppid,
        GETUID | GETEUID | GETGID | GETEGID => process::zero_id,
        SET_TID_ADDRESS => process::set_tid_address,
        SET_ROBUST_LIST => process::ok,
        PRLIMIT64 => process::prlimit64,
        SCHED_YIELD => process::ok,
        SCHED_GETAFFINITY => process::sched_getaffinity,
        UNAME => info::uname,
        GETRANDOM => info::getrandom,
        CLOCK_GETTIME => time::clock_gettime,
        GETTIMEOFDAY => time::gettimeofday,
        NANOSLEEP => time::nanosleep,
        CLOCK_NANOSLEEP => time::clock_nanosleep,
        #[cfg(target_arch = "x86_64")]
        ARCH_PRCTL => process::arch_prctl,
        RT_SIGACTION => signal::rt_sigaction,
        RT_SIGPROCMASK => signal::rt_sigprocmask,
        RT_SIGPENDING => signal::rt_sigpending,
        RT_SIGSUSPEND => signal::rt_sigsuspend,
        #[cfg(target_arch = "x86_64")]
        RT_SIGRETURN => signal::rt_sigreturn,
        KILL => signal::kill,
        TGKILL => signal::tgkill,
        TKILL => signal::tkill,
        SIGALTSTACK => signal::sigaltstack,
        #[cfg(target_arch = "x86_64")]
        PAUSE => signal::pause,
        #[cfg(target_arch = "x86_64")]
        ALARM => signal::alarm,
        // Known and deliberately absent: glibc falls back (clone3 → clone) or copes (rseq).
        RSEQ | CLONE3 => process::not_supported,
        _ => return None,
    };
    Some(h)
}
