//! The guest kernel: what runs at guest ring 0 (EL1) and the data structures it needs —
//! descriptor tables, entry stubs, page tables. It knows CPUs, not KVM.
#![no_std]

#[cfg(test)]
extern crate std;

pub mod aarch64;
pub mod pagetables;
pub mod trap;
pub mod x86_64;

pub use trap::{Access, Trap};
