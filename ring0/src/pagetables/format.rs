//! What distinguishes one page-table format from another.

use super::{ENTRIES, PAGE_SIZE, Perms, PhysAddr};

/// An entry format and address-space layout.
///
/// Implementations are marker types; all methods are associated functions on entries. The
/// walker only relies on a format for correctness of the translation, never for memory safety.
pub trait Format {
    /// Table levels, at least 2; the root is level `LEVELS - 1`, leaves are in level 0.
    const LEVELS: usize = 4;

    /// Exclusive upper bound of the physical addresses an entry can hold.
    const MAX_PA: u64;

    /// First root index of the upper half that can be shared between tables (see
    /// [`SharedUpperHalf`]); [`ENTRIES`] when the root has no such half.
    const FIRST_UPPER_INDEX: usize = ENTRIES;

    /// Whether `first..=last` (with `first <= last`) lies within one range these tables map.
    fn va_range_valid(first: u64, last: u64) -> bool;

    /// Entry linking a next-level table at `pa`.
    fn table_entry(pa: PhysAddr) -> u64;

    /// Leaf entry for a 4 KiB page at `pa`; `perms` are already [`Perms::effective`].
    fn leaf_entry(pa: PhysAddr, perms: Perms) -> u64;

    /// Whether the entry is present/valid.
    fn is_valid(entry: u64) -> bool;

    /// The address held by a valid entry.
    fn entry_addr(entry: u64) -> PhysAddr;

    /// What a valid leaf entry grants.
    fn leaf_perms(entry: u64) -> Perms;

    /// Index of `va` in a table at `level`.
    fn index(va: u64, level: usize) -> usize {
        ((va >> (PAGE_SIZE.trailing_zeros() as usize + 9 * level)) & (ENTRIES as u64 - 1)) as usize
    }
}

/// Formats whose root covers both halves, so one table's upper half (root entries from
/// [`Format::FIRST_UPPER_INDEX`]) can be shared by others through
/// [`PageTables::share_upper_from`](super::PageTables::share_upper_from).
pub trait SharedUpperHalf: Format {}
