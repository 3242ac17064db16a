//! The Linux ABI as seen by guest programs, for x86_64 and aarch64.
//!
//! Everything here is plain data: system call numbers, error numbers, `#[repr(C)]` structures
//! and flag values. Both architectures are compiled on every host, because the sentry may
//! serve a guest of either kind and tools need the guest's view rather than the host's. Types
//! that differ between the two live in [`x86_64`] and [`aarch64`]; the rest are shared.
//!
//! Guest addresses are `u64` fields, never host pointers.
#![no_std]

pub mod aarch64;
pub mod auxv;
pub mod caps;
pub mod epoll;
pub mod errno;
pub mod flags;
pub mod poll;
pub mod resource;
pub mod signal;
pub mod syscalls;
pub mod time;
pub mod uio;
pub mod utsname;
pub mod x86_64;

pub use errno::{Errno, SysResult};
pub use poll::PollFd;
pub use resource::Rlimit;
pub use signal::{SigAction, SigInfo, SigSet, StackT};
pub use time::{Timespec, Timeval};
pub use uio::IoVec;
pub use utsname::UtsName;

/// The architecture-specific definitions of the host, for code that serves same-arch guests.
#[cfg(target_arch = "aarch64")]
pub use aarch64 as host;
/// The architecture-specific definitions of the host, for code that serves same-arch guests.
#[cfg(target_arch = "x86_64")]
pub use x86_64 as host;

/// A guest architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arch {
    /// x86_64 (the 64-bit ABI, not x32).
    X86_64,
    /// aarch64 (arm64), little-endian.
    Aarch64,
}

impl Arch {
    /// The architecture this crate was compiled for.
    #[cfg(target_arch = "x86_64")]
    pub const HOST: Arch = Arch::X86_64;
    /// The architecture this crate was compiled for.
    #[cfg(target_arch = "aarch64")]
    pub const HOST: Arch = Arch::Aarch64;
}
