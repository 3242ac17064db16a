//! The KVM platform on x86_64.

mod address_space;
mod context;
mod entry_area;
mod fpu;
mod guest_fpu;
mod guest_mode;
mod machine;
mod pool;
mod vcpu;

pub use address_space::AddressSpace;
pub use context::Context;
pub use guest_fpu::GuestFpu;
pub(crate) use guest_mode::on_kick;
pub use guest_mode::{GuestMode, current_ring};
pub use machine::Machine;
