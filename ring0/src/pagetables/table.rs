//! Atomic access to the entries of one table page: the only unsafe code of the page tables.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering};

use super::{Allocator, ENTRIES, PhysAddr};

/// One table page as reached through its allocator.
///
/// Entries are only ever accessed atomically, one 64-bit access each, because a vCPU may walk
/// the table concurrently. A `Table` is used only while its page is allocated: walkers free a
/// page only after their last access through it.
#[derive(Clone, Copy)]
pub(super) struct Table {
    entries: NonNull<u64>,
}

impl Table {
    pub(super) fn at<A: Allocator + ?Sized>(alloc: &A, pa: PhysAddr) -> Self {
        let entries = NonNull::new(alloc.table_ptr(pa).cast::<u64>());
        Table {
            entries: entries.expect("Allocator::table_ptr returned null"),
        }
    }

    fn entry(&self, index: usize) -> &AtomicU64 {
        assert!(index < ENTRIES);
        // SAFETY: by the `Allocator` contract the pointer is 8-byte aligned and valid for the
        // 4096 bytes of an allocated page, which is only accessed atomically while allocated;
        // `index < ENTRIES` keeps the entry inside the page, and the page stays allocated while
        // this `Table` is in use (see the type's invariant).
        unsafe { AtomicU64::from_ptr(self.entries.as_ptr().add(index)) }
    }

    pub(super) fn load(&self, index: usize) -> u64 {
        self.entry(index).load(Ordering::Acquire)
    }

    /// Release, so that a newly linked table's zeroed contents are visible before the link.
    pub(super) fn store(&self, index: usize, value: u64) {
        self.entry(index).store(value, Ordering::Release);
    }

    pub(super) fn is_empty(&self) -> bool {
        (0..ENTRIES).all(|i| self.load(i) == 0)
    }
}
