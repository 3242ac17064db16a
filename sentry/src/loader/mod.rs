//! The ELF loader: turns an executable into mappings, an entry point and the initial stack.
//!
//! It is pure: [`elf`] parses and validates an image read through [`ReadAt`], [`layout`]
//! decides where its segments go and returns a [`LoadPlan`] of mappings for `mm` to make, and
//! [`stack`] builds the bytes of the System V initial stack. Nothing here knows tasks, memory
//! managers or the platform, so all of it is tested on the host for both architectures.

pub mod elf;
pub mod layout;
mod read;
pub mod stack;

#[cfg(test)]
pub(crate) mod testelf;

pub use elf::{ElfError, ElfInfo, ElfType, Segment};
pub use layout::{LayoutError, LoadPlan, LoadStep, Placement};
pub use read::ReadAt;
pub use stack::{AuxValues, InitialStack, StackParams};

/// The page size the loader lays images out with (4 KiB on both architectures: ringfence uses
/// the 4K granule on aarch64 too).
pub const PAGE_SIZE: u64 = 4096;

/// Rounds `addr` down to a page boundary.
pub const fn page_down(addr: u64) -> u64 {
    addr & !(PAGE_SIZE - 1)
}

/// Rounds `addr` up to a page boundary, or `None` if that passes the end of the address space.
pub const fn page_up(addr: u64) -> Option<u64> {
    match addr.checked_add(PAGE_SIZE - 1) {
        Some(a) => Some(page_down(a)),
        None => None,
    }
}
