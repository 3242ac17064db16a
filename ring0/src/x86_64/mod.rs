//! The x86_64 guest kernel: descriptor tables, the entry stubs that run at guest ring 0, and
//! the decoding of what they report.
//!
//! Everything here is data the host lays out in guest memory; nothing executes a privileged
//! instruction on the host.

pub mod cpu;
#[cfg(target_arch = "x86_64")]
pub mod entry;
pub mod exception;

pub mod gdt;
#[cfg(target_arch = "x86_64")]
pub mod guest_entry;
pub mod idt;
pub mod layout;
pub mod rflags;
pub mod tss;
