//! The aarch64 guest kernel: the EL1 exception vectors and entry code the host copies into
//! guest memory, the system-register values that make a vCPU run them, and the decoding of
//! what they report.
//!
//! Everything here is data the host lays out in guest memory; nothing executes a privileged
//! instruction on the host.

pub mod layout;
pub mod syndrome;
pub mod sysregs;
#[cfg(target_arch = "aarch64")]
pub mod vectors;
