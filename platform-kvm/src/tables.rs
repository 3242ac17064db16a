//! Page-table pages: a pool of host memory the guest sees, from which every page table of
//! the machine is built. Tables hold guest-physical addresses; the pool turns them back into
//! host pointers for the code that edits them.

use ring0::pagetables::{Allocator, PAGE_SIZE, PhysAddr};

use crate::error::Result;
use crate::region::HostRegion;

pub(crate) struct TablePool {
    region: HostRegion,
    next: u64,
    free: Vec<PhysAddr>,
    live: usize,
}

impl TablePool {
    /// A pool of at most `size` bytes of tables (reserved, backed on first use).
    pub(crate) fn new(size: u64) -> Result<TablePool> {
        Ok(TablePool {
            region: HostRegion::anonymous("page tables", size)?,
            next: 0,
            free: Vec::new(),
            live: 0,
        })
    }

    pub(crate) fn region_mut(&mut self) -> &mut HostRegion {
        &mut self.region
    }

    /// Tables in use.
    pub(crate) fn live(&self) -> usize {
        self.live
    }
}

// SAFETY: pages come from the pool's own region, which lives as long as the machine; each
// is zeroed when handed out and given to one table at a time; `table_ptr` asserts the address
// is a page of the region. Freed tables are reused at once: every vCPU flushes an address
// space whose generation changed (an unmap bumps it) before running it again, and without
// PCIDs every CR3 load flushes, so no paging-structure cache can still point at a reused page
// when it is walked.
unsafe impl Allocator for TablePool {
    fn alloc_table(&mut self) -> Option<PhysAddr> {
        let pa = match self.free.pop() {
            Some(pa) => pa,
            None if self.next + PAGE_SIZE <= self.region.size() => {
                let pa = self.region.gpa() + self.next;
                self.next += PAGE_SIZE;
                pa
            }
            None => return None,
        };
        // Freed tables may hold stale entries; fresh ones are zero already, but a write is
        // cheaper than tracking which is which.
        self.region
            .write(pa - self.region.gpa(), &[0u8; PAGE_SIZE as usize])
            .ok()?;
        self.live += 1;
        Some(pa)
    }

    fn free_table(&mut self, pa: PhysAddr) {
        debug_assert!(self.region.contains_gpa(pa));
        self.live -= 1;
        self.free.push(pa);
    }

    fn table_ptr(&self, pa: PhysAddr) -> *mut [u64; 512] {
        assert!(
            self.region.contains_gpa(pa) && pa.is_multiple_of(PAGE_SIZE),
            "table {pa:#x} is not in the table pool"
        );
        self.region
            .host_ptr()
            .wrapping_add((pa - self.region.gpa()) as usize)
            .cast()
    }
}
