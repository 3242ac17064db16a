//! A host allocator for the tests: boxed pages with fake physical addresses.

extern crate std;

use core::cell::UnsafeCell;
use std::boxed::Box;
use std::vec::Vec;

use super::{Allocator, PAGE_SIZE, PhysAddr};

/// Where the fake physical addresses start.
pub const BASE: PhysAddr = 0x10_0000;

#[repr(C, align(4096))]
struct Page(UnsafeCell<[u64; 512]>);

/// Pages live in `slots[(pa - BASE) / PAGE_SIZE]`; freed slots are reused.
pub struct TestAlloc {
    slots: Vec<Option<Box<Page>>>,
    limit: usize,
    /// Every page freed so far, in order.
    pub freed: Vec<PhysAddr>,
}

impl TestAlloc {
    pub fn new() -> Self {
        Self::with_limit(usize::MAX)
    }

    /// At most `limit` pages alive at once.
    pub fn with_limit(limit: usize) -> Self {
        TestAlloc {
            slots: Vec::new(),
            limit,
            freed: Vec::new(),
        }
    }

    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    pub fn live(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }

    fn slot(&self, pa: PhysAddr) -> &Page {
        assert!(
            pa >= BASE && pa.is_multiple_of(PAGE_SIZE),
            "bad table address {pa:#x}"
        );
        let index = ((pa - BASE) / PAGE_SIZE) as usize;
        match self.slots.get(index) {
            Some(Some(page)) => page,
            _ => panic!("table {pa:#x} is not allocated"),
        }
    }

    /// A copy of a table's entries.
    pub fn entries(&self, pa: PhysAddr) -> [u64; 512] {
        let page = self.slot(pa);
        // SAFETY: single-threaded tests; nothing writes the page during the copy.
        unsafe { *page.0.get() }
    }
}

// SAFETY: pages are zeroed, 4096-aligned boxes alive until freed, accessed only through the
// pointer handed out by `table_ptr` (and copies in single-threaded tests); unknown or freed
// addresses panic in `slot`.
unsafe impl Allocator for TestAlloc {
    fn alloc_table(&mut self) -> Option<PhysAddr> {
        if self.live() >= self.limit {
            return None;
        }
        let page = Some(Box::new(Page(UnsafeCell::new([0; 512]))));
        let index = match self.slots.iter().position(|s| s.is_none()) {
            Some(i) => {
                self.slots[i] = page;
                i
            }
            None => {
                self.slots.push(page);
                self.slots.len() - 1
            }
        };
        Some(BASE + index as u64 * PAGE_SIZE)
    }

    fn free_table(&mut self, pa: PhysAddr) {
        self.slot(pa);
        self.slots[((pa - BASE) / PAGE_SIZE) as usize] = None;
        self.freed.push(pa);
    }

    fn table_ptr(&self, pa: PhysAddr) -> *mut [u64; 512] {
        self.slot(pa).0.get()
    }
}
