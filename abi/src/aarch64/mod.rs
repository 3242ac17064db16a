//! aarch64-specific layouts and values. System call numbers are in
//! [`crate::syscalls::aarch64`].

mod epoll;
mod fcntl;
mod mman;
mod regs;
mod signal;
mod stat;

pub use crate::syscalls::aarch64 as syscalls;
pub use epoll::EpollEvent;
pub use fcntl::OpenFlags;
pub use mman::{PROT_BTI, PROT_MTE};
pub use regs::{FpRegs, TaskRegs, UserRegs};
pub use signal::{MINSIGSTKSZ, SIGSTKSZ};
pub use stat::Stat;

/// `AUDIT_ARCH_AARCH64`, the architecture seccomp filters and `SIGSYS` report.
pub const AUDIT_ARCH: u32 = 0xc000_00b7;
