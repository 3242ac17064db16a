//! Where table pages come from.

use super::PhysAddr;

/// Source of table pages.
///
/// The tables hold physical (guest-physical) addresses; the allocator knows where the code
/// running now can reach a table page. Every call on one [`PageTables`](super::PageTables), and
/// on tables sharing subtrees with it, must be given the same allocator.
///
/// # Safety
///
/// The page-table code dereferences what `table_ptr` returns, so an implementation promises:
///
/// - `alloc_table` returns the address of a 4 KiB-aligned, zeroed page that nothing else uses,
///   below the output address limit of the formats it serves.
/// - For a `pa` that `alloc_table` returned and `free_table` has not taken back, `table_ptr`
///   returns a non-null, 8-byte aligned pointer valid for reads and writes of 4096 bytes until
///   `free_table(pa)`, and nobody accesses that memory meanwhile except atomically or
///   non-concurrently.
/// - For any other `pa` it panics. Addresses come from entries, so the wrong allocator or a
///   corrupted entry must end in a panic, never in a wild pointer.
pub unsafe trait Allocator {
    /// A zeroed 4 KiB page, or `None` when exhausted.
    fn alloc_table(&mut self) -> Option<PhysAddr>;

    /// Takes back a table page that is no longer linked into any table.
    ///
    /// A CPU may still hold the page in its paging-structure caches until the caller's next TLB
    /// invalidation for these tables, so the page must not be handed out again before then
    /// (queue it and recycle after the flush).
    fn free_table(&mut self, pa: PhysAddr);

    /// Where the code running now reaches the table page at `pa`.
    fn table_ptr(&self, pa: PhysAddr) -> *mut [u64; 512];
}
