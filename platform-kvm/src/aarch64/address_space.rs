//! Application address spaces: TTBR0 tables holding the application's mappings of the memory
//! file, tagged with an ASID so switching between spaces need not flush the TLB.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ring0::aarch64::layout::{USER_MAX, USER_MIN};
use ring0::pagetables::aarch64::{Aarch64, ttbr_value};
use ring0::pagetables::pcid::Tag;
use ring0::pagetables::{PageTables, Perms};

use super::machine::Machine;
use crate::error::{Error, Result};
use crate::tables::{TablePool, check_user_range, released, with_space_tables};

const PAGE: u64 = 4096;

/// What a vCPU needs to load an address space and to know whether its TLB is current.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Loadable {
    pub ttbr0: u64,
    pub asid: u16,
    pub id: u64,
    /// Bumped whenever a translation is removed or weakened.
    pub generation: u64,
}

/// One application address space.
pub struct AddressSpace {
    machine: Arc<Machine>,
    id: u64,
    asid: u16,
    tag: Mutex<Option<Tag>>,
    tables: Mutex<Option<PageTables<Aarch64>>>,
    generation: AtomicU64,
}

impl AddressSpace {
    /// An empty address space on `machine`.
    pub fn new(machine: &Arc<Machine>) -> Result<AddressSpace> {
        let mut pool = machine.tables.lock().unwrap_or_else(|e| e.into_inner());
        let tables =
            PageTables::<Aarch64>::new(&mut *pool).map_err(|e| Error::PageTables(e.to_string()))?;
        drop(pool);
        // Once the ASIDs run out they are shared; the vCPU's TLB record keys on the space's id
        // too, so a shared ASID is flushed whenever it changes hands.
        let tag = machine
            .asids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .acquire()
            .0;
        Ok(AddressSpace {
            machine: machine.clone(),
            id: machine.next_space_id(),
            asid: tag.value(),
            tag: Mutex::new(Some(tag)),
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
        let target = memory.gpa() + offset;
        // Break before make, as the architecture requires when a valid translation's output
        // address changes (a copy-on-write break, a remap): what is mapped there goes, and
        // every vCPU drops it, before the new translation is written. A change of
        // permissions alone needs no break.
        let map = |tables: &mut PageTables<Aarch64>, pool: &mut TablePool| {
            tables
                .map(pool, addr, target, len, perms | Perms::USER)
                .map_err(|e| Error::PageTables(e.to_string()))
        };
        // In one lock when nothing else is mapped there (a fault's fresh page, the usual case);
        // `None` when the old translations were removed and must be dropped first.
        let mapped = self.with_tables(|tables, pool| {
            let elsewhere = len != PAGE
                || tables
                    .translate(pool, addr)
                    .is_some_and(|(pa, _)| pa != target);
            if !elsewhere {
                return map(tables, pool).map(Some);
            }
            let removed = tables
                .unmap(pool, addr, len)
                .map_err(|e| Error::PageTables(e.to_string()))?;
            if removed {
                Ok(None)
            } else {
                map(tables, pool).map(Some)
            }
        })?;
        let changed = match mapped {
            Some(changed) => changed,
            None => {
                self.changed(true);
                self.with_tables(map)?
            }
        };
        self.changed(changed);
        Ok(())
    }

    /// Remove any mapping in `[addr, addr + len)`.
    pub fn unmap(&self, addr: u64, len: u64) -> Result<()> {
        check_range(addr, len)?;
        self.with_tables(|tables, pool| {
            tables
                .unmap(pool, addr, len)
                .map_err(|e| Error::PageTables(e.to_string()))
        })
        .map(|changed| self.changed(changed))
    }

    /// Change the permissions of mapped pages in `[addr, addr + len)`.
    pub fn protect(&self, addr: u64, len: u64, perms: Perms) -> Result<()> {
        check_range(addr, len)?;
        self.with_tables(|tables, pool| {
            tables
                .protect(pool, addr, len, perms | Perms::USER)
                .map_err(|e| Error::PageTables(e.to_string()))
        })
        .map(|changed| self.changed(changed))
    }

    /// After an edit that removed or changed a translation: vCPUs must not keep using the
    /// old one. Threads running this space elsewhere are taken out of it; every vCPU flushes
    /// the ASID before it next runs the space.
    fn changed(&self, changed: bool) {
        if changed {
            self.generation.fetch_add(1, Ordering::Release);
            self.machine.shoot_down(self.id);
        }
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
            if let Some(tag) = self.tag.lock().unwrap_or_else(|e| e.into_inner()).take() {
                let mut asids = self.machine.asids.lock().unwrap_or_else(|e| e.into_inner());
                asids.release(tag);
            }
        }
    }

    pub(crate) fn loadable(&self) -> Result<Loadable> {
        let guard = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        let tables = guard.as_ref().ok_or_else(released)?;
        Ok(Loadable {
            ttbr0: ttbr_value(tables.root(), self.asid),
            asid: self.asid,
            id: self.id,
            generation: self.generation.load(Ordering::Acquire),
        })
    }

    pub(crate) fn machine(&self) -> &Arc<Machine> {
        &self.machine
    }

    fn with_tables<T>(
        &self,
        f: impl FnOnce(&mut PageTables<Aarch64>, &mut TablePool) -> Result<T>,
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
