//! The KVM platform on x86_64.

mod address_space;
mod context;
mod entry_area;
mod fpu;
mod machine;
mod pool;
mod vcpu;

pub use address_space::AddressSpace;
pub use context::{Context, Interrupter};
pub use machine::{Machine, MachineConfig};
