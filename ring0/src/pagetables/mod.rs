//! Page tables for the guest: x86_64 4-level and aarch64 4 KiB-granule 4-level formats,
//! generic over where table pages come from.
//!
//! Everything here is plain data-structure code and runs (and is tested) on any host. The
//! tables hold guest-physical addresses; an [`Allocator`] hands out table pages and tells the
//! code running now where it can reach them.
//!
//! A vCPU may walk the tables while the host edits them, so every entry is read and written
//! with a single atomic 64-bit access and a new table is zeroed before it is linked. Making the
//! CPUs see a change (TLB and paging-structure cache invalidation) is the caller's job: every
//! editing operation reports whether anything a CPU may have cached was changed.
//!
//! Only 4 KiB leaves are created. Intermediate entries are permissive, so the leaf alone decides
//! the permissions of a page.

pub mod aarch64;
mod alloc;
mod format;
pub mod pcid;
mod perms;
mod table;
mod tables;
mod walk;
pub mod x86_64;

#[cfg(test)]
mod test_alloc;
#[cfg(test)]
mod tests;

pub use alloc::Allocator;
pub use format::{Format, SharedUpperHalf};
pub use perms::Perms;
pub use tables::PageTables;

use core::fmt;

/// A guest-physical address.
pub type PhysAddr = u64;

/// The size of a page and of a table.
pub const PAGE_SIZE: u64 = 4096;

/// Entries in one table.
pub const ENTRIES: usize = 512;

/// Why a page-table operation was refused. A refused operation changed nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MapError {
    /// The length is zero.
    EmptyRange,
    /// The virtual address, physical address or length is not page-aligned.
    Misaligned,
    /// The virtual range wraps around, is not canonical, or leaves the half the format covers.
    OutOfRange,
    /// The physical range does not fit in the format's output address size.
    PhysOutOfRange,
    /// The permissions grant no access (none of READ, WRITE, EXECUTE).
    NoAccess,
    /// The range lies in an upper half borrowed from other tables, or the upper half of these
    /// tables is lent to others and cannot be replaced.
    Shared,
    /// The allocator has no more table pages.
    OutOfTables,
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MapError::EmptyRange => "empty range",
            MapError::Misaligned => "address or length not page-aligned",
            MapError::OutOfRange => "virtual range out of range",
            MapError::PhysOutOfRange => "physical range out of range",
            MapError::NoAccess => "permissions grant no access",
            MapError::Shared => "range is shared with other page tables",
            MapError::OutOfTables => "out of page-table pages",
        })
    }
}

impl core::error::Error for MapError {}
