//! The KVM platform: the VMM side of ringfence. It opens `/dev/kvm`, builds a machine whose
//! guest kernel comes from `ring0`, gives applications their own address spaces, and runs
//! their code at guest ring 3 until it traps back to the sentry.
//!
//! Two backends sit behind one interface (see DESIGN.md): on hardware virtualization a
//! ring-3 `syscall` enters the ring-0 stub; on software-virtualized KVM (`kvm_pvm`) it stays
//! at ring 3 and leaves through the user trampoline's MMIO exit.

pub mod backend;
mod config;
pub mod error;
mod kick;
pub mod memfile;
mod physmap;
mod preempt;
pub mod region;
pub mod stats;
mod tables;

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "x86_64")]
mod x86_64;

#[cfg(target_arch = "aarch64")]
use aarch64 as arch;
#[cfg(target_arch = "aarch64")]
pub use aarch64::{AddressSpace, Context, GuestMode, Machine};
pub use backend::Backend;
pub use config::MachineConfig;
pub use error::{Error, Result};
pub use kick::Interrupter;
pub use memfile::MemoryFile;
pub use ring0::pagetables::Perms;
pub use ring0::{Access, Trap};
pub use stats::{ExitReason, ExitStats};
#[cfg(target_arch = "x86_64")]
use x86_64 as arch;
#[cfg(target_arch = "x86_64")]
pub use x86_64::{AddressSpace, Context, GuestFpu, GuestMode, Machine, current_ring};
