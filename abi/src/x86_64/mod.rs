//! x86_64-specific layouts and values. System call numbers are in [`crate::syscalls::x86_64`].

mod epoll;
mod fcntl;
mod regs;
mod signal;
mod stat;

pub use crate::syscalls::x86_64 as syscalls;
pub use epoll::EpollEvent;
pub use fcntl::OpenFlags;
pub use regs::UserRegs;
pub use signal::{MINSIGSTKSZ, SIGSTKSZ};
pub use stat::Stat;

/// `AUDIT_ARCH_X86_64`, the architecture seccomp filters and `SIGSYS` report.
pub const AUDIT_ARCH: u32 = 0xc000_003e;
