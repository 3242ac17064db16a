//! Page-table pages: a pool of host memory the guest sees, from which every page table of
//! the machine is built. Tables hold guest-physical addresses; the pool turns them back into
//! host pointers for the code that edits them.

use std::sync::Mutex;

use ring0::pagetables::{Allocator, Format, PAGE_SIZE, PageTables, PhysAddr};

use crate::error::{Error, Result};
use crate::region::HostRegion;

pub(crate) struct TablePool {
    region: HostRegion,
    next: u64,
    free: Vec<PhysAddr>,
    /// Freed tables that may still be shadowed (software backend): reused only after the
    /// next shadow refresh.
    quarantine: Vec<PhysAddr>,
    defer_reuse: bool,
    live: usize,
}

impl TablePool {
    /// A pool of at most `size` bytes of tables (reserved, backed on first use).
    /// A pool of at most `size` bytes of tables. With `defer_reuse`, freed tables wait for
    /// [`TablePool::recycle`] before they are handed out again.
    pub(crate) fn new(size: u64, defer_reuse: bool) -> Result<TablePool> {
        Ok(TablePool {
            region: HostRegion::anonymous("page tables", size)?,
            next: 0,
            free: Vec::new(),
            quarantine: Vec::new(),
            defer_reuse,
            live: 0,
        })
    }

    /// Tables freed since the last recycle.
    // Used by the x86_64 software backend and guest mode.
    #[cfg_attr(target_arch = "aarch64", allow(dead_code))]
    pub(crate) fn quarantined(&self) -> usize {
        self.quarantine.len()
    }

    /// The shadow of every freed table is gone: they may be reused.
    // Used by the x86_64 software backend and guest mode.
    #[cfg_attr(target_arch = "aarch64", allow(dead_code))]
    pub(crate) fn recycle(&mut self) {
        self.free.append(&mut self.quarantine);
    }

    // The aarch64 machine records where its pool sits (guest mode maps it).
    #[cfg_attr(target_arch = "x86_64", allow(dead_code))]
    pub(crate) fn region(&self) -> &HostRegion {
        &self.region
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
// is a page of the region. On the hardware backend freed tables are reused at once: every
// vCPU flushes an address space whose generation changed (an unmap bumps it) before running
// it again, a vCPU never runs under a released space's CR3, and without PCIDs every CR3 load
// flushes. On the software backend KVM shadows tables by page, so a freed table waits in
// quarantine until the shadow has been dropped.
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
        if self.defer_reuse {
            self.quarantine.push(pa);
        } else {
            self.free.push(pa);
        }
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

/// The error for an address space whose tables were released.
pub(crate) fn released() -> Error {
    Error::InvalidRange {
        addr: 0,
        len: 0,
        why: "address space was released",
    }
}

/// Runs `f` on an address space's tables (`None` once released) with the machine's pool.
pub(crate) fn with_space_tables<F: Format, T>(
    tables: &Mutex<Option<PageTables<F>>>,
    pool: &Mutex<TablePool>,
    f: impl FnOnce(&mut PageTables<F>, &mut TablePool) -> Result<T>,
) -> Result<T> {
    let mut guard = tables.lock().unwrap_or_else(|e| e.into_inner());
    let tables = guard.as_mut().ok_or_else(released)?;
    let mut pool = pool.lock().unwrap_or_else(|e| e.into_inner());
    f(tables, &mut pool)
}

/// Checks that `[addr, addr + len)` is page-aligned, not empty and inside `[min, max)`.
pub(crate) fn check_user_range(addr: u64, len: u64, (min, max): (u64, u64)) -> Result<()> {
    let why = if !addr.is_multiple_of(PAGE_SIZE) || !len.is_multiple_of(PAGE_SIZE) || len == 0 {
        "not page-aligned or empty"
    } else if addr < min || addr.checked_add(len).is_none_or(|end| end > max) {
        "outside the application address range"
    } else {
        return Ok(());
    };
    Err(Error::InvalidRange { addr, len, why })
}
