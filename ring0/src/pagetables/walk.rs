//! Recursive walks over the entries covering a virtual range.

use super::table::Table;
use super::{Allocator, ENTRIES, Format, MapError, PAGE_SIZE, PhysAddr};

/// The part of the range `first..=last` that falls into one entry of a table.
struct Slot {
    index: usize,
    first: u64,
    last: u64,
    /// The range covers everything the entry maps.
    whole: bool,
}

/// The entries of a table at `level` that overlap `first..=last`, in address order. The range
/// must lie within the span of that one table.
fn slots<F: Format>(level: usize, first: u64, last: u64) -> impl Iterator<Item = Slot> {
    let span = PAGE_SIZE << (9 * level);
    let lo = F::index(first, level);
    let hi = F::index(last, level);
    let base0 = first & !(span - 1);
    (lo..=hi).map(move |index| {
        // Neither overflows: `base` is at most `last`, and `end` ends an aligned block.
        let base = base0 + (index - lo) as u64 * span;
        let end = base + (span - 1);
        Slot {
            index,
            first: first.max(base),
            last: last.min(end),
            whole: first <= base && end <= last,
        }
    })
}

/// Creates the missing tables down to the leaf tables for `first..=last`. On failure the
/// tables created so far stay linked (empty); [`clear`] without leaves removes them.
pub(super) fn ensure<F: Format, A: Allocator + ?Sized>(
    alloc: &mut A,
    table: PhysAddr,
    level: usize,
    first: u64,
    last: u64,
) -> Result<(), MapError> {
    let t = Table::at(alloc, table);
    for s in slots::<F>(level, first, last) {
        let e = t.load(s.index);
        let child = if F::is_valid(e) {
            F::entry_addr(e)
        } else {
            let pa = alloc.alloc_table().ok_or(MapError::OutOfTables)?;
            debug_assert!(pa.is_multiple_of(PAGE_SIZE) && pa < F::MAX_PA);
            t.store(s.index, F::table_entry(pa));
            pa
        };
        if level > 1 {
            ensure::<F, A>(alloc, child, level - 1, s.first, s.last)?;
        }
    }
    Ok(())
}

/// Calls `f(leaf_table, index, va)` for every leaf slot of `first..=last` whose leaf table
/// exists, present or not, in address order.
pub(super) fn leaves<F: Format, A: Allocator + ?Sized>(
    alloc: &A,
    table: PhysAddr,
    level: usize,
    first: u64,
    last: u64,
    f: &mut impl FnMut(Table, usize, u64),
) {
    let t = Table::at(alloc, table);
    for s in slots::<F>(level, first, last) {
        if level == 0 {
            f(t, s.index, s.first);
            continue;
        }
        let e = t.load(s.index);
        if F::is_valid(e) {
            leaves::<F, A>(alloc, F::entry_addr(e), level - 1, s.first, s.last, f);
        }
    }
}

/// Clears the leaves of `first..=last` (if `clear_leaves`) and frees the tables in the range
/// that are then empty, except children of this table from index `keep_from` on. Returns
/// whether any entry changed.
pub(super) fn clear<F: Format, A: Allocator + ?Sized>(
    alloc: &mut A,
    table: PhysAddr,
    level: usize,
    first: u64,
    last: u64,
    clear_leaves: bool,
    keep_from: usize,
) -> bool {
    let t = Table::at(alloc, table);
    let mut changed = false;
    for s in slots::<F>(level, first, last) {
        let e = t.load(s.index);
        if !F::is_valid(e) {
            continue;
        }
        if level == 0 {
            if clear_leaves {
                t.store(s.index, 0);
                changed = true;
            }
            continue;
        }
        let child = F::entry_addr(e);
        changed |= clear::<F, A>(
            alloc,
            child,
            level - 1,
            s.first,
            s.last,
            clear_leaves,
            ENTRIES,
        );
        let empty = (clear_leaves && s.whole) || Table::at(alloc, child).is_empty();
        if empty && s.index < keep_from {
            // Unlink before freeing, so no walker can reach the page once it is reused.
            t.store(s.index, 0);
            alloc.free_table(child);
            changed = true;
        }
    }
    changed
}

/// Frees the table at `table` (at `level`) and every table below it.
pub(super) fn free_subtree<F: Format, A: Allocator + ?Sized>(
    alloc: &mut A,
    table: PhysAddr,
    level: usize,
) {
    if level > 0 {
        let t = Table::at(alloc, table);
        for i in 0..ENTRIES {
            let e = t.load(i);
            if F::is_valid(e) {
                free_subtree::<F, A>(alloc, F::entry_addr(e), level - 1);
            }
        }
    }
    alloc.free_table(table);
}
