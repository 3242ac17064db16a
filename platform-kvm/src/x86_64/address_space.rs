//! Application address spaces: page tables whose lower half holds the application's
//! mappings of the memory file and whose upper half is the kernel's, shared.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ring0::pagetables::pcid::Tag;
use ring0::pagetables::x86_64::X86_64;
use ring0::pagetables::{PageTables, Perms};
use ring0::x86_64::layout::{USER_MAX, USER_MIN};

use super::machine::Machine;
use crate::error::{Error, Result};
use crate::tables::{TablePool, check_user_range, released, with_space_tables};

const PAGE: u64 = 4096;

/// What a vCPU needs to load an address space and to know whether its TLB is current.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Loadable {
    pub root: u64,
    pub pcid: u16,
    pub id: u64,
    /// Bumped whenever a translation is removed or weakened, so vCPUs holding older
    /// translations of this space flush.
    pub generation: u64,
}

/// One application address space.
pub struct AddressSpace {
    machine: Arc<Machine>,
    id: u64,
    pcid: u16,
    tag: Mutex<Option<Tag>>,
    tables: Mutex<Option<PageTables<X86_64>>>,
    generation: AtomicU64,
}

impl AddressSpace {
    /// An empty address space on `machine`.
    pub fn new(machine: &Arc<Machine>) -> Result<AddressSpace> {
        let mut pool = machine.tables.lock().unwrap_or_else(|e| e.into_inner());
        let mut tables =
            PageTables::<X86_64>::new(&mut *pool).map_err(|e| Error::PageTables(e.to_string()))?;
        if let Err(e) = tables.share_upper_from(&mut *pool, &machine.kernel) {
            tables.release(&mut *pool);
            return Err(Error::PageTables(e.to_string()));
        }
        drop(pool);
        // The TLB check in the context keys on the space's id as well, so a PCID shared
        // after the allocator runs out (a new epoch) is still flushed when it changes hands.
        let tag = machine.features.pcid.then(|| {
            let mut pcids = machine.pcids.lock().unwrap_or_else(|e| e.into_inner());
            pcids.acquire().0
        });
        Ok(AddressSpace {
            machine: machine.clone(),
            id: machine.next_space_id(),
            pcid: tag.as_ref().map_or(0, Tag::value),
            tag: Mutex::new(tag),
            tables: Mutex::new(Some(tables)),
            generation: AtomicU64::new(0),
        })
    }

    /// The lowest and highest (exclusive) addresses applications may map.
    pub const USER_RANGE: (u64, u64) = (USER_MIN, USER_MAX);

    /// Map `len` bytes of the memory file from `offset` at `addr` with `perms` (user access
    /// is implied), replacing whatever was mapped there.
    pub fn map(&self, addr: u64, len: u64, offset: u64, perms: Perms) -> Result<()> {
        check_range(addr, len)?;
        let memory = self.machine.memory.region();
        if !offset.is_multiple_of(PAGE)
            || offset
                .checked_add(len)
                .is_none_or(|end| end > memory.size())
        {
            return Err(Error::InvalidRange {
                addr: offset,
                len,
                why: "not page-aligned or past the end of the memory file",
            });
        }
        self.with_tables(|tables, pool| {
            let replaced = tables
                .map(pool, addr, memory.gpa() + offset, len, perms | Perms::USER)
                .map_err(|e| Error::PageTables(e.to_string()))?;
            Ok(replaced)
        })
        .and_then(|changed| self.changed(changed))
    }

    /// Remove any mapping in `[addr, addr + len)`.
    pub fn unmap(&self, addr: u64, len: u64) -> Result<()> {
        check_range(addr, len)?;
        self.with_tables(|tables, pool| {
            let removed = tables
                .unmap(pool, addr, len)
                .map_err(|e| Error::PageTables(e.to_string()))?;
            Ok(removed)
        })
        .and_then(|changed| self.changed(changed))
    }

    /// Change the permissions of mapped pages in `[addr, addr + len)`.
    pub fn protect(&self, addr: u64, len: u64, perms: Perms) -> Result<()> {
        check_range(addr, len)?;
        self.with_tables(|tables, pool| {
            let changed = tables
                .protect(pool, addr, len, perms | Perms::USER)
                .map_err(|e| Error::PageTables(e.to_string()))?;
            Ok(changed)
        })
        .and_then(|changed| self.changed(changed))
    }

    /// After an edit: if it removed or changed a translation, vCPUs must not keep using the
    /// old one.
    fn changed(&self, changed: bool) -> Result<()> {
        if !changed {
            return Ok(());
        }
        self.generation.fetch_add(1, Ordering::Release);
        // Threads running this space on other vCPUs may hold the old translations in their
        // TLBs: take them out of it before the caller goes on (they flush on their next
        // load, the generation having changed).
        self.machine.shoot_down(self.id);
        self.machine.page_tables_changed()
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Where `addr` is mapped in the memory file, and how.
    pub fn translate(&self, addr: u64) -> Option<(u64, Perms)> {
        let memory_gpa = self.machine.memory.region().gpa();
        self.with_tables(|tables, pool| {
            Ok(tables
                .translate(pool, addr)
                .map(|(pa, perms)| (pa - memory_gpa, perms)))
        })
        .ok()
        .flatten()
    }

    /// Free the page tables; the space can no longer be used (switching to it fails).
    pub fn release(&self) {
        let mut guard = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tables) = guard.take() {
            let mut pool = self
                .machine
                .tables
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            tables.release(&mut *pool);
            drop(pool);
            if let Err(e) = self.machine.tables_freed() {
                tracing::warn!("shadow refresh after releasing an address space: {e}");
            }
            if let Some(tag) = self.tag.lock().unwrap_or_else(|e| e.into_inner()).take() {
                let mut pcids = self.machine.pcids.lock().unwrap_or_else(|e| e.into_inner());
                pcids.release(tag);
            }
        }
    }

    pub(crate) fn loadable(&self) -> Result<Loadable> {
        let guard = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        let tables = guard.as_ref().ok_or_else(released)?;
        Ok(Loadable {
            root: tables.root(),
            pcid: self.pcid,
            id: self.id,
            generation: self.generation.load(Ordering::Acquire),
        })
    }

    pub(crate) fn machine(&self) -> &Arc<Machine> {
        &self.machine
    }

    fn with_tables<T>(
        &self,
        f: impl FnOnce(&mut PageTables<X86_64>, &mut TablePool) -> Result<T>,
    ) -> Result<T> {
        with_space_tables(&self.tables, &self.machine.tables, f)
    }
}

impl Drop for AddressSpace {
    fn drop(&mut self) {
        self.release();
    }
}

fn check_range(addr: u64, len: u64) -> Result<()> {
    check_user_range(addr, len, AddressSpace::USER_RANGE)
}
