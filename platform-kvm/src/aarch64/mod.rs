//! The KVM platform on aarch64: the sentry drives EL1 entry code that saves each EL0 trap into
//! the vCPU's frame and leaves with one MMIO exit (see `ring0::aarch64::vectors`).

mod address_space;
mod context;
mod frame;
mod guest_mode;
mod machine;
mod pool;
mod vcpu;

pub use address_space::AddressSpace;
pub use context::Context;
pub use guest_mode::GuestMode;
pub(crate) use guest_mode::on_kick;
pub use machine::Machine;
