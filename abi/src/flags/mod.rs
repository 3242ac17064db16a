//! Flag values of system call arguments that are the same on x86_64 and aarch64.
//!
//! Open flags differ between the two and live in the architecture modules
//! ([`crate::x86_64::OpenFlags`], [`crate::aarch64::OpenFlags`]); [`open`] holds their shared
//! definition.

pub mod at;
pub mod clone;
pub mod fcntl;
pub mod mman;
pub mod open;

pub use clone::CloneFlags;
pub use mman::{MapFlags, ProtFlags};
