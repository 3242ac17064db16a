//! Syscall numbers to handlers, per architecture.

use super::{Handler, exec, file, fs, futex, ids, info, misc, mm, poll, process, signal, time};
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
        PREAD64 => file::pread64,
        PWRITE64 => file::pwrite64,
        PREADV => file::preadv,
        PWRITEV => file::pwritev,
        SENDFILE => file::sendfile,
        LSEEK => file::lseek,
        CLOSE => file::close,
        DUP => file::dup,
        DUP3 => file::dup3,
        FCNTL => file::fcntl,
        IOCTL => file::ioctl,
        GETDENTS64 => file::getdents64,
        FTRUNCATE => file::ftruncate,
        FSYNC | FDATASYNC => file::fsync,
        OPENAT => fs::openat,
        FSTAT => fs::fstat,
        NEWFSTATAT => fs::newfstatat,
        STATX => fs::statx,
        MKDIRAT => fs::mkdirat,
        UNLINKAT => fs::unlinkat,
        RENAMEAT2 => fs::renameat2,
        SYMLINKAT => fs::symlinkat,
        READLINKAT => fs::readlinkat,
        LINKAT => fs::linkat,
        CHDIR => fs::chdir,
        FCHDIR => fs::fchdir,
        GETCWD => fs::getcwd,
        FACCESSAT => fs::faccessat,
        FACCESSAT2 => fs::faccessat2,
        UMASK => fs::umask,
        FCHMODAT => fs::fchmodat,
        FCHMOD => fs::fchmod,
        #[cfg(target_arch = "x86_64")]
        OPEN => fs::open,
        #[cfg(target_arch = "x86_64")]
        CREAT => fs::creat,
        #[cfg(target_arch = "x86_64")]
        STAT => fs::stat,
        #[cfg(target_arch = "x86_64")]
        LSTAT => fs::lstat,
        #[cfg(target_arch = "x86_64")]
        MKDIR => fs::mkdir,
        #[cfg(target_arch = "x86_64")]
        UNLINK => fs::unlink,
        #[cfg(target_arch = "x86_64")]
        RMDIR => fs::rmdir,
        #[cfg(target_arch = "x86_64")]
        RENAME => fs::rename,
        RENAMEAT => fs::renameat,
        #[cfg(target_arch = "x86_64")]
        SYMLINK => fs::symlink,
        #[cfg(target_arch = "x86_64")]
        READLINK => fs::readlink,
        #[cfg(target_arch = "x86_64")]
        LINK => fs::link,
        TRUNCATE => fs::truncate,
        #[cfg(target_arch = "x86_64")]
        ACCESS => fs::access,
        #[cfg(target_arch = "x86_64")]
        CHMOD => fs::chmod,
        #[cfg(target_arch = "x86_64")]
        DUP2 => file::dup2,
        BRK => mm::brk,
        MMAP => mm::mmap,
        MUNMAP => mm::munmap,
        MPROTECT => mm::mprotect,
        MADVISE => mm::madvise,
        MREMAP => mm::mremap,
        CLONE => exec::clone,
        FUTEX => futex::futex,
        EXECVE => exec::execve,
        WAIT4 => exec::wait4,
        WAITID => exec::waitid,
        #[cfg(target_arch = "x86_64")]
        FORK => exec::fork,
        #[cfg(target_arch = "x86_64")]
        VFORK => exec::vfork,
        EXIT => process::exit,
        EXIT_GROUP => process::exit_group,
        GETPID => process::getpid,
        GETTID => process::gettid,
        GETPPID => process::getppid,
        GETUID => ids::getuid,
        GETEUID => ids::geteuid,
        GETGID => ids::getgid,
        GETEGID => ids::getegid,
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
        RT_SIGRETURN => signal::rt_sigreturn,
        KILL => signal::kill,
        TGKILL => signal::tgkill,
        TKILL => signal::tkill,
        SIGALTSTACK => signal::sigaltstack,
        #[cfg(target_arch = "x86_64")]
        PAUSE => signal::pause,
        #[cfg(target_arch = "x86_64")]
        ALARM => signal::alarm,
        SETITIMER => signal::setitimer,
        GETITIMER => signal::getitimer,
        GETXATTR | LGETXATTR | FGETXATTR => misc::getxattr,
        LISTXATTR | LLISTXATTR | FLISTXATTR => misc::listxattr,
        SETXATTR | LSETXATTR | FSETXATTR | REMOVEXATTR | LREMOVEXATTR | FREMOVEXATTR => {
            misc::setxattr
        }
        STATFS => misc::statfs,
        FSTATFS => misc::fstatfs,
        SYSINFO => misc::sysinfo,
        GETPGID => misc::getpgid,
        GETSID => misc::getsid,
        SETPGID => misc::setpgid,
        SETSID => misc::setsid,
        GETRUSAGE => misc::getrusage,
        TIMES => misc::times,
        SOCKET | SOCKETPAIR => misc::socket,
        CONNECT | BIND | LISTEN | ACCEPT | ACCEPT4 | GETSOCKNAME | GETPEERNAME | SENDTO
        | RECVFROM | SENDMSG | RECVMSG | SHUTDOWN | SETSOCKOPT | GETSOCKOPT => misc::not_a_socket,
        FADVISE64 => misc::fadvise,
        #[cfg(target_arch = "x86_64")]
        TIME => misc::time,
        #[cfg(target_arch = "x86_64")]
        GETPGRP => misc::getpgrp,
        PIPE2 => poll::pipe2,
        EVENTFD2 => poll::eventfd2,
        PPOLL => poll::ppoll,
        PSELECT6 => poll::pselect6,
        EPOLL_CREATE1 => poll::epoll_create1,
        EPOLL_CTL => poll::epoll_ctl,
        EPOLL_PWAIT => poll::epoll_pwait,
        #[cfg(target_arch = "x86_64")]
        PIPE => poll::pipe,
        #[cfg(target_arch = "x86_64")]
        EVENTFD => poll::eventfd,
        #[cfg(target_arch = "x86_64")]
        POLL => poll::poll,
        #[cfg(target_arch = "x86_64")]
        SELECT => poll::select,
        #[cfg(target_arch = "x86_64")]
        EPOLL_CREATE => poll::epoll_create,
        #[cfg(target_arch = "x86_64")]
        EPOLL_WAIT => poll::epoll_wait,
        GETRESUID => ids::getresuid,
        GETRESGID => ids::getresgid,
        GETGROUPS => ids::getgroups,
        SETGROUPS => ids::setgroups,
        SETUID => ids::setuid,
        SETGID => ids::setgid,
        SETREUID => ids::setreuid,
        SETREGID => ids::setregid,
        SETRESUID => ids::setresuid,
        SETRESGID => ids::setresgid,
        SETFSUID => ids::setfsuid,
        SETFSGID => ids::setfsgid,
        SCHED_GETSCHEDULER => ids::sched_getscheduler,
        SCHED_GETPARAM => ids::sched_getparam,
        SCHED_SETSCHEDULER | SCHED_SETPARAM => ids::sched_set,
        SCHED_GET_PRIORITY_MAX => ids::sched_priority_max,
        SCHED_GET_PRIORITY_MIN => ids::sched_priority_min,
        SCHED_SETAFFINITY => ids::sched_setaffinity,
        GETPRIORITY => ids::getpriority,
        SETPRIORITY => ids::setpriority,
        MLOCK | MUNLOCK | MLOCKALL | MUNLOCKALL => ids::memory_noop,
        MSYNC => mm::msync,
        SYNC | SYNCFS => ids::sync,
        FCHOWNAT => fs::fchownat,
        FCHOWN => fs::fchown,
        UTIMENSAT => fs::utimensat,
        #[cfg(target_arch = "x86_64")]
        CHOWN => fs::chown,
        #[cfg(target_arch = "x86_64")]
        LCHOWN => fs::lchown,
        // Known and deliberately absent: glibc falls back (clone3 → clone, copy_file_range
        // → read/write) or copes (rseq).
        RSEQ | CLONE3 | COPY_FILE_RANGE => process::not_supported,
        PRCTL => misc::prctl,
        _ => return None,
    };
    Some(h)
}
