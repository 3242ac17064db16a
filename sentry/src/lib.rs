//! The sentry: ringfence's implementation of the Linux system-call interface. It is
//! platform-agnostic; platforms (KVM, later ptrace) run application code for it and report
//! traps through the contract in [`platform`].
//!
//! So far the sentry holds that contract and its KVM implementation; tasks, memory
//! management, the VFS and the syscall tables come with the sentry-core work.
#![deny(unsafe_code)]

pub mod arch;
pub mod epoll;
pub mod exec;
pub mod futex;
pub mod host;
pub mod kernel;
pub mod loader;
pub mod mm;
pub mod pipe;
pub mod platform;
pub mod procfs;
pub mod sandbox;
pub mod signal;
pub mod syscalls;
pub mod sysfs;
pub mod task;
pub mod vfs;
pub mod wait;
