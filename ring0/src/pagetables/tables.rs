//! One address space's page tables.

use core::marker::PhantomData;
use core::sync::atomic::{AtomicBool, Ordering};

use super::table::Table;
use super::{
    Allocator, ENTRIES, Format, MapError, PAGE_SIZE, Perms, PhysAddr, SharedUpperHalf, walk,
};

/// The tables of one address space in format `F`.
///
/// They own the table pages reachable from their root, except upper-half subtrees borrowed
/// through [`share_upper_from`](Self::share_upper_from). They do not free anything when
/// dropped (they have no allocator then): call [`release`](Self::release).
///
/// Invariant: every table below the root holds at least one valid entry, except upper-half
/// tables kept for borrowers (see [`share_upper_from`](Self::share_upper_from)).
#[derive(Debug)]
pub struct PageTables<F: Format> {
    root: PhysAddr,
    /// Root entries from `F::FIRST_UPPER_INDEX` point into another table's subtrees.
    borrows_upper: bool,
    /// Other tables hold copies of our upper root entries, so the tables those entries point
    /// to are kept until release.
    lends_upper: AtomicBool,
    _format: PhantomData<fn() -> F>,
}

impl<F: Format> PageTables<F> {
    const TOP: usize = F::LEVELS - 1;

    /// Empty tables: just a zeroed root.
    pub fn new<A: Allocator + ?Sized>(alloc: &mut A) -> Result<Self, MapError> {
        let root = alloc.alloc_table().ok_or(MapError::OutOfTables)?;
        Ok(PageTables {
            root,
            borrows_upper: false,
            lends_upper: AtomicBool::new(false),
            _format: PhantomData,
        })
    }

    /// The physical address of the root table (for CR3 / TTBR).
    pub fn root(&self) -> PhysAddr {
        self.root
    }

    /// Maps `va..va+len` to `pa..pa+len` with 4 KiB pages, replacing whatever was mapped there.
    ///
    /// Returns whether a valid leaf was replaced by a different one, i.e. whether a TLB flush
    /// is needed. Either maps the whole range or, on error, leaves every mapping as it was
    /// (tables lending their upper half may keep an empty upper-half table created meanwhile).
    pub fn map<A: Allocator + ?Sized>(
        &mut self,
        alloc: &mut A,
        va: u64,
        pa: PhysAddr,
        len: u64,
        perms: Perms,
    ) -> Result<bool, MapError> {
        let last = self.check(va, len, true)?;
        if !pa.is_multiple_of(PAGE_SIZE) {
            return Err(MapError::Misaligned);
        }
        match pa.checked_add(len - 1) {
            Some(pa_last) if pa_last < F::MAX_PA => {}
            _ => return Err(MapError::PhysOutOfRange),
        }
        let perms = perms.effective().ok_or(MapError::NoAccess)?;

        // Tables first, leaves second: running out of tables then leaves nothing half-done.
        if let Err(e) = walk::ensure::<F, A>(alloc, self.root, Self::TOP, va, last) {
            walk::clear::<F, A>(
                alloc,
                self.root,
                Self::TOP,
                va,
                last,
                false,
                self.keep_from(),
            );
            return Err(e);
        }
        let mut replaced = false;
        walk::leaves::<F, A>(alloc, self.root, Self::TOP, va, last, &mut |t, i, page| {
            let new = F::leaf_entry(pa + (page - va), perms);
            let old = t.load(i);
            if old != new {
                replaced |= F::is_valid(old);
                t.store(i, new);
            }
        });
        Ok(replaced)
    }

    /// Unmaps `va..va+len`, freeing the tables that become empty. Returns whether anything was
    /// unmapped or unlinked, i.e. whether a TLB flush is needed.
    pub fn unmap<A: Allocator + ?Sized>(
        &mut self,
        alloc: &mut A,
        va: u64,
        len: u64,
    ) -> Result<bool, MapError> {
        let last = self.check(va, len, true)?;
        let keep_from = self.keep_from();
        Ok(walk::clear::<F, A>(
            alloc,
            self.root,
            Self::TOP,
            va,
            last,
            true,
            keep_from,
        ))
    }

    /// Changes the permissions of the pages mapped in `va..va+len`, keeping their addresses;
    /// holes stay holes. Returns whether any leaf changed, i.e. whether a TLB flush is needed.
    pub fn protect<A: Allocator + ?Sized>(
        &mut self,
        alloc: &A,
        va: u64,
        len: u64,
        perms: Perms,
    ) -> Result<bool, MapError> {
        let last = self.check(va, len, true)?;
        let perms = perms.effective().ok_or(MapError::NoAccess)?;
        let mut changed = false;
        walk::leaves::<F, A>(alloc, self.root, Self::TOP, va, last, &mut |t, i, _| {
            let old = t.load(i);
            if F::is_valid(old) {
                let new = F::leaf_entry(F::entry_addr(old), perms);
                if new != old {
                    t.store(i, new);
                    changed = true;
                }
            }
        });
        Ok(changed)
    }

    /// The physical address `va` maps to (with its offset in the page) and the page's
    /// permissions; `None` if unmapped or outside the range these tables cover.
    pub fn translate<A: Allocator + ?Sized>(
        &self,
        alloc: &A,
        va: u64,
    ) -> Option<(PhysAddr, Perms)> {
        if !F::va_range_valid(va, va) {
            return None;
        }
        let mut table = self.root;
        for level in (0..F::LEVELS).rev() {
            let e = Table::at(alloc, table).load(F::index(va, level));
            if !F::is_valid(e) {
                return None;
            }
            if level == 0 {
                let pa = F::entry_addr(e) + (va % PAGE_SIZE);
                return Some((pa, F::leaf_perms(e)));
            }
            table = F::entry_addr(e);
        }
        None
    }

    /// Calls `f(va, pa, perms)` for every page mapped in `va..va+len`, in address order.
    pub fn iterate<A: Allocator + ?Sized>(
        &self,
        alloc: &A,
        va: u64,
        len: u64,
        mut f: impl FnMut(u64, PhysAddr, Perms),
    ) -> Result<(), MapError> {
        let last = self.check(va, len, false)?;
        walk::leaves::<F, A>(alloc, self.root, Self::TOP, va, last, &mut |t, i, page| {
            let e = t.load(i);
            if F::is_valid(e) {
                f(page, F::entry_addr(e), F::leaf_perms(e));
            }
        });
        Ok(())
    }

    /// Frees every table these tables own. Subtrees borrowed through
    /// [`share_upper_from`](Self::share_upper_from) are left alone. Tables that lent their
    /// upper half must outlive every borrower's use of it.
    pub fn release<A: Allocator + ?Sized>(self, alloc: &mut A) {
        let owned = if self.borrows_upper {
            F::FIRST_UPPER_INDEX
        } else {
            ENTRIES
        };
        let root = Table::at(alloc, self.root);
        for i in 0..owned {
            let e = root.load(i);
            if F::is_valid(e) {
                walk::free_subtree::<F, A>(alloc, F::entry_addr(e), Self::TOP - 1);
            }
        }
        alloc.free_table(self.root);
    }

    /// Validates a page range and returns its last byte. `edit` refuses borrowed ranges.
    fn check(&self, va: u64, len: u64, edit: bool) -> Result<u64, MapError> {
        if len == 0 {
            return Err(MapError::EmptyRange);
        }
        if !va.is_multiple_of(PAGE_SIZE) || !len.is_multiple_of(PAGE_SIZE) {
            return Err(MapError::Misaligned);
        }
        let last = va.checked_add(len - 1).ok_or(MapError::OutOfRange)?;
        if !F::va_range_valid(va, last) {
            return Err(MapError::OutOfRange);
        }
        if edit && self.borrows_upper && F::index(va, Self::TOP) >= F::FIRST_UPPER_INDEX {
            return Err(MapError::Shared);
        }
        Ok(last)
    }

    /// Root index from which emptied children are kept rather than freed.
    fn keep_from(&self) -> usize {
        if self.lends_upper.load(Ordering::Relaxed) {
            F::FIRST_UPPER_INDEX
        } else {
            ENTRIES
        }
    }
}

impl<F: SharedUpperHalf> PageTables<F> {
    /// Makes the upper half of these tables the upper half of `other`: copies `other`'s root
    /// entries from [`Format::FIRST_UPPER_INDEX`] on, so both share the same subtrees, and
    /// frees the upper-half tables these tables owned. Returns whether a valid upper-half
    /// entry was replaced (a TLB flush is then needed).
    ///
    /// Afterwards the upper half is read-only through these tables (map, unmap and protect
    /// refuse it with [`MapError::Shared`]); edit it through `other`, whose upper-half tables
    /// below the root are then kept, even when emptied, until `other` is released. Root
    /// entries `other` gains later are not seen here: populate the shared half first, or call
    /// this again.
    ///
    /// Fails with [`MapError::Shared`] if other tables borrow the upper half of these.
    pub fn share_upper_from<A: Allocator + ?Sized>(
        &mut self,
        alloc: &mut A,
        other: &PageTables<F>,
    ) -> Result<bool, MapError> {
        if self.lends_upper.load(Ordering::Relaxed) {
            return Err(MapError::Shared);
        }
        let mine = Table::at(alloc, self.root);
        let theirs = Table::at(alloc, other.root);
        let mut replaced = false;
        for i in F::FIRST_UPPER_INDEX..ENTRIES {
            let old = mine.load(i);
            let new = theirs.load(i);
            if old == new {
                continue;
            }
            mine.store(i, new);
            if F::is_valid(old) {
                replaced = true;
                if !self.borrows_upper {
                    walk::free_subtree::<F, A>(alloc, F::entry_addr(old), Self::TOP - 1);
                }
            }
        }
        self.borrows_upper = true;
        other.lends_upper.store(true, Ordering::Relaxed);
        Ok(replaced)
    }
}
