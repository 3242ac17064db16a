//! Behaviour of `PageTables` in every format, on the host.

extern crate std;

use std::vec;
use std::vec::Vec;

use super::aarch64::{self, Aarch64, Aarch64Upper};
use super::test_alloc::TestAlloc;
use super::x86_64::{self, X86_64};
use super::{Format, MapError, PAGE_SIZE, PageTables, Perms};

const P: u64 = PAGE_SIZE;
const R: Perms = Perms::READ;
const W: Perms = Perms::WRITE;
const X: Perms = Perms::EXECUTE;
const U: Perms = Perms::USER;
const G: Perms = Perms::GLOBAL;

/// Where to test a format: a base address and a 512 GiB boundary in the same range.
#[derive(Clone, Copy)]
struct Place {
    base: u64,
    boundary: u64,
}

const LOWER: Place = Place {
    base: 0x4000_0000,
    boundary: 1 << 39,
};
const X86_UPPER: Place = Place {
    base: x86_64::UPPER_START + 0x4000_0000,
    boundary: x86_64::UPPER_START + (1 << 39),
};
const AARCH64_UPPER: Place = Place {
    base: aarch64::UPPER_START + 0x4000_0000,
    boundary: aarch64::UPPER_START + (1 << 39),
};

macro_rules! each_format {
    ($($test:ident),* $(,)?) => {
        $(
            mod $test {
                use super::*;
                #[test]
                fn x86_64_lower() { super::$test::<X86_64>(LOWER); }
                #[test]
                fn x86_64_upper() { super::$test::<X86_64>(X86_UPPER); }
                #[test]
                fn aarch64_ttbr0() { super::$test::<Aarch64>(LOWER); }
                #[test]
                fn aarch64_ttbr1() { super::$test::<Aarch64Upper>(AARCH64_UPPER); }
            }
        )*
    };
}

each_format!(
    round_trip,
    replace,
    unmap_partial,
    protect,
    iterate,
    large_ranges,
    errors,
    exhaustion,
);

fn collect<F: Format>(
    pt: &PageTables<F>,
    a: &TestAlloc,
    va: u64,
    len: u64,
) -> Vec<(u64, u64, Perms)> {
    let mut out = Vec::new();
    pt.iterate(a, va, len, |va, pa, perms| out.push((va, pa, perms)))
        .unwrap();
    out
}

fn round_trip<F: Format>(at: Place) {
    let mut a = TestAlloc::new();
    let mut pt = PageTables::<F>::new(&mut a).unwrap();
    let cases = [
        (R | W | U, R | W | U),
        (R | X | U, R | X | U),
        (R | U, R | U),
        (W | U, R | W | U),
        (R | X | G, R | X | G),
        (R | W | U | G, R | W | U),
        (X, R | X),
        (R | W, R | W),
    ];
    for (i, &(asked, granted)) in cases.iter().enumerate() {
        let va = at.base + i as u64 * P;
        let pa = 0x8000_0000 + i as u64 * P;
        assert_eq!(pt.map(&mut a, va, pa, P, asked), Ok(false));
        assert_eq!(pt.translate(&a, va), Some((pa, granted)));
        assert_eq!(pt.translate(&a, va + 0x123), Some((pa + 0x123, granted)));
    }
    assert_eq!(pt.translate(&a, at.base + cases.len() as u64 * P), None);
    assert_eq!(pt.translate(&a, at.base - P), None);
    assert_eq!(a.live(), 4);
    // The path to the leaves is permissive.
    let root = a.entries(pt.root());
    let e = root[F::index(at.base, 3)];
    assert_eq!(e, F::table_entry(F::entry_addr(e)));
    pt.release(&mut a);
    assert_eq!(a.live(), 0);
}

fn replace<F: Format>(at: Place) {
    let mut a = TestAlloc::new();
    let mut pt = PageTables::<F>::new(&mut a).unwrap();
    let va = at.base;
    assert_eq!(
        pt.map(&mut a, va, 0x10_0000_0000, 4 * P, R | W | U),
        Ok(false)
    );
    // Identical: nothing to flush.
    assert_eq!(
        pt.map(&mut a, va, 0x10_0000_0000, 4 * P, R | W | U),
        Ok(false)
    );
    // Other frames, partly over the old range.
    assert_eq!(
        pt.map(&mut a, va + 2 * P, 0x20_0000_0000, 4 * P, R | U),
        Ok(true)
    );
    assert_eq!(
        collect(&pt, &a, va, 8 * P),
        vec![
            (va, 0x10_0000_0000, R | W | U),
            (va + P, 0x10_0000_1000, R | W | U),
            (va + 2 * P, 0x20_0000_0000, R | U),
            (va + 3 * P, 0x20_0000_1000, R | U),
            (va + 4 * P, 0x20_0000_2000, R | U),
            (va + 5 * P, 0x20_0000_3000, R | U),
        ]
    );
    // Same frame, other permissions.
    assert_eq!(pt.map(&mut a, va, 0x10_0000_0000, P, R | X | U), Ok(true));
    assert_eq!(pt.translate(&a, va), Some((0x10_0000_0000, R | X | U)));
    assert_eq!(a.live(), 4);
    pt.release(&mut a);
    assert_eq!(a.live(), 0);
}

fn unmap_partial<F: Format>(at: Place) {
    let mut a = TestAlloc::new();
    let mut pt = PageTables::<F>::new(&mut a).unwrap();
    let va = at.base;
    pt.map(&mut a, va, 0x1000_0000, 16 * P, R | W | U).unwrap();
    assert_eq!(pt.unmap(&mut a, va + 4 * P, 4 * P), Ok(true));
    for i in 0..16 {
        let t = pt.translate(&a, va + i * P);
        assert_eq!(t.is_some(), !(4..8).contains(&i), "page {i}");
    }
    assert_eq!(pt.unmap(&mut a, va + 4 * P, 4 * P), Ok(false));
    assert_eq!(a.live(), 4);
    // Unmapping around the rest, then the rest, frees every table but the root.
    assert_eq!(pt.unmap(&mut a, va - 64 * P, 68 * P), Ok(true));
    assert_eq!(a.live(), 4);
    assert_eq!(pt.unmap(&mut a, va + 8 * P, 8 * P), Ok(true));
    assert_eq!(a.live(), 1);
    assert!(a.entries(pt.root()).iter().all(|&e| e == 0));
    // An unmap that empties one of two leaf tables frees just that one.
    let b = at.boundary;
    pt.map(&mut a, b - 2 * P, 0x1000_0000, 4 * P, R | U)
        .unwrap();
    assert_eq!(a.live(), 7);
    assert_eq!(pt.unmap(&mut a, b, 2 * P), Ok(true));
    assert_eq!(a.live(), 4);
    assert_eq!(pt.unmap(&mut a, b - 2 * P, 2 * P), Ok(true));
    assert_eq!(a.live(), 1);
    pt.release(&mut a);
    assert_eq!(a.live(), 0);
}

fn protect<F: Format>(at: Place) {
    let mut a = TestAlloc::new();
    let mut pt = PageTables::<F>::new(&mut a).unwrap();
    let va = at.base;
    pt.map(&mut a, va, 0x3000_0000, 4 * P, R | W | U).unwrap();
    assert_eq!(pt.protect(&a, va + P, 2 * P, R | X | U), Ok(true));
    assert_eq!(pt.protect(&a, va + P, 2 * P, R | X | U), Ok(false));
    let perms: Vec<_> = collect(&pt, &a, va, 4 * P)
        .iter()
        .map(|m| (m.1, m.2))
        .collect();
    assert_eq!(
        perms,
        vec![
            (0x3000_0000, R | W | U),
            (0x3000_1000, R | X | U),
            (0x3000_2000, R | X | U),
            (0x3000_3000, R | W | U),
        ]
    );
    // Holes stay holes and cost no tables.
    assert_eq!(pt.protect(&a, va + 4 * P, 1024 * P, R | U), Ok(false));
    assert_eq!(pt.translate(&a, va + 4 * P), None);
    assert_eq!(pt.protect(&a, va, P, U), Err(MapError::NoAccess));
    assert_eq!(a.live(), 4);
    pt.release(&mut a);
}

fn iterate<F: Format>(at: Place) {
    let mut a = TestAlloc::new();
    let mut pt = PageTables::<F>::new(&mut a).unwrap();
    let b = at.boundary;
    // Mapped in reverse order, scattered over leaf tables and top-level entries.
    let pages = [
        (b + (1 << 30) + 5 * P, R | U),
        (b + 3 * P, R | W | U),
        (b - P, R | X | U),
        (b - (2 << 20), R | U),
        (b - (2 << 20) - P, R | W),
    ];
    for (i, &(va, perms)) in pages.iter().enumerate() {
        pt.map(&mut a, va, 0x5000_0000 + i as u64 * P, P, perms)
            .unwrap();
    }
    let mut expected: Vec<_> = pages
        .iter()
        .enumerate()
        .map(|(i, &(va, perms))| (va, 0x5000_0000 + i as u64 * P, perms))
        .collect();
    expected.reverse();
    let start = b - (4 << 20);
    assert_eq!(collect(&pt, &a, start, 8 << 30), expected);
    // A sub-range cuts at page granularity.
    assert_eq!(
        collect(&pt, &a, b - (2 << 20), (2 << 20) + 4 * P),
        expected[1..4].to_vec()
    );
    assert_eq!(collect(&pt, &a, b + 4 * P, 1 << 20), vec![]);
    pt.release(&mut a);
    assert_eq!(a.live(), 0);
}

fn large_ranges<F: Format>(at: Place) {
    let mut a = TestAlloc::new();
    let mut pt = PageTables::<F>::new(&mut a).unwrap();
    let b = at.boundary;
    // Crosses a PT, PD, PDPT and root boundary at once.
    pt.map(&mut a, b - 4 * P, 0x7000_0000, 8 * P, R | W | U)
        .unwrap();
    assert_eq!(a.live(), 1 + 2 + 2 + 2);
    for i in 0..8 {
        let va = b - 4 * P + i * P;
        assert_eq!(pt.translate(&a, va), Some((0x7000_0000 + i * P, R | W | U)));
    }
    // 4 MiB + 3 pages from the middle of a leaf table: a new PD and 3 leaf tables, under the
    // PDPT that already maps the boundary's lower side.
    let va = at.base + 100 * P;
    let len = (4 << 20) + 3 * P;
    pt.map(&mut a, va, 0x1_0000_0000, len, R | U).unwrap();
    assert_eq!(a.live(), 7 + 1 + 3);
    let all = collect(&pt, &a, va, len);
    assert_eq!(all.len() as u64, len / P);
    assert!(all.iter().enumerate().all(|(i, m)| {
        let off = i as u64 * P;
        *m == (va + off, 0x1_0000_0000 + off, R | U)
    }));
    assert_eq!(pt.unmap(&mut a, va, len), Ok(true));
    assert_eq!(pt.unmap(&mut a, b - 4 * P, 8 * P), Ok(true));
    assert_eq!(a.live(), 1);
    pt.release(&mut a);
    assert_eq!(a.live(), 0);
}

fn errors<F: Format>(at: Place) {
    let mut a = TestAlloc::new();
    let mut pt = PageTables::<F>::new(&mut a).unwrap();
    let va = at.base;
    let rw = R | W;
    let mut map = |a: &mut TestAlloc, va, pa, len, perms| pt.map(a, va, pa, len, perms);
    assert_eq!(map(&mut a, va, 0, 0, rw), Err(MapError::EmptyRange));
    assert_eq!(map(&mut a, va + 1, 0, P, rw), Err(MapError::Misaligned));
    assert_eq!(map(&mut a, va, 0x800, P, rw), Err(MapError::Misaligned));
    assert_eq!(map(&mut a, va, 0, P + 8, rw), Err(MapError::Misaligned));
    assert_eq!(map(&mut a, va, 0, P, U), Err(MapError::NoAccess));
    assert_eq!(
        map(&mut a, va, 0, P, Perms::empty()),
        Err(MapError::NoAccess)
    );
    let max = F::MAX_PA;
    assert_eq!(
        map(&mut a, va, max - P, 2 * P, rw),
        Err(MapError::PhysOutOfRange)
    );
    assert_eq!(
        map(&mut a, va, u64::MAX - (P - 1), 2 * P, rw),
        Err(MapError::PhysOutOfRange)
    );
    assert_eq!(a.live(), 1);
    assert_eq!(map(&mut a, va, max - P, P, rw), Ok(false));
    assert_eq!(pt.unmap(&mut a, va, 0), Err(MapError::EmptyRange));
    assert_eq!(pt.unmap(&mut a, va + 8, P), Err(MapError::Misaligned));
    assert_eq!(pt.protect(&a, va, 3, R), Err(MapError::Misaligned));
    assert_eq!(
        pt.iterate(&a, va, 0, |_, _, _| ()),
        Err(MapError::EmptyRange)
    );
    assert_eq!(pt.translate(&a, va), Some((max - P, rw)));
    pt.release(&mut a);
}

#[test]
fn x86_64_canonical_ranges() {
    let mut a = TestAlloc::new();
    let mut pt = PageTables::<X86_64>::new(&mut a).unwrap();
    let rw = R | W;
    let out = Err(MapError::OutOfRange);
    // Non-canonical, across the hole, wrapping.
    assert_eq!(pt.map(&mut a, x86_64::LOWER_END, 0, P, rw), out);
    assert_eq!(pt.map(&mut a, 0x1234_0000_0000_0000, 0, P, rw), out);
    assert_eq!(pt.map(&mut a, x86_64::UPPER_START - P, 0, P, rw), out);
    assert_eq!(pt.map(&mut a, x86_64::LOWER_END - P, 0, 2 * P, rw), out);
    assert_eq!(pt.map(&mut a, u64::MAX - (P - 1), 0, 2 * P, rw), out);
    assert_eq!(pt.unmap(&mut a, x86_64::LOWER_END, P), out);
    assert_eq!(pt.translate(&a, x86_64::LOWER_END), None);
    assert_eq!(a.live(), 1);
    // Both ends of both halves.
    for va in [
        0,
        x86_64::LOWER_END - P,
        x86_64::UPPER_START,
        u64::MAX - (P - 1),
    ] {
        assert_eq!(pt.map(&mut a, va, 0x9000, P, rw), Ok(false));
        assert_eq!(pt.translate(&a, va + 0xfff), Some((0x9fff, rw)));
    }
    let top = u64::MAX - (P - 1);
    assert_eq!(collect(&pt, &a, top, P), vec![(top, 0x9000, rw)]);
    assert_eq!(pt.unmap(&mut a, x86_64::UPPER_START, 1 << 47), Ok(true));
    assert_eq!(pt.unmap(&mut a, 0, 1 << 47), Ok(true));
    assert_eq!(a.live(), 1);
    pt.release(&mut a);
}

#[test]
fn aarch64_half_ranges() {
    let mut a = TestAlloc::new();
    let mut lower = PageTables::<Aarch64>::new(&mut a).unwrap();
    let mut upper = PageTables::<Aarch64Upper>::new(&mut a).unwrap();
    let out = Err(MapError::OutOfRange);
    let rw = R | W;
    assert_eq!(lower.map(&mut a, aarch64::LOWER_END, 0, P, rw), out);
    assert_eq!(lower.map(&mut a, aarch64::UPPER_START, 0, P, rw), out);
    assert_eq!(lower.map(&mut a, aarch64::LOWER_END - P, 0, 2 * P, rw), out);
    assert_eq!(upper.map(&mut a, 0x4000_0000, 0, P, rw), out);
    assert_eq!(
        upper.map(&mut a, aarch64::UPPER_START - P, 0, 2 * P, rw),
        out
    );
    assert_eq!(upper.map(&mut a, u64::MAX - (P - 1), 0, 2 * P, rw), out);
    assert_eq!(upper.translate(&a, 0x4000_0000), None);
    assert_eq!(a.live(), 2);
    assert_eq!(
        lower.map(&mut a, aarch64::LOWER_END - P, 0x5000, P, rw),
        Ok(false)
    );
    assert_eq!(
        upper.map(&mut a, u64::MAX - (P - 1), 0x6000, P, rw),
        Ok(false)
    );
    // The same low 48 bits, told apart by which table holds them.
    assert_eq!(
        upper.map(&mut a, aarch64::UPPER_START, 0x7000, P, rw),
        Ok(false)
    );
    assert_eq!(lower.translate(&a, 0), None);
    assert_eq!(
        upper.translate(&a, aarch64::UPPER_START),
        Some((0x7000, rw))
    );
    assert_eq!(upper.translate(&a, u64::MAX), Some((0x6fff, rw)));
    lower.release(&mut a);
    upper.release(&mut a);
    assert_eq!(a.live(), 0);
}

fn exhaustion<F: Format>(at: Place) {
    assert_eq!(
        PageTables::<F>::new(&mut TestAlloc::with_limit(0)).map(|_| ()),
        Err(MapError::OutOfTables)
    );
    let mut a = TestAlloc::new();
    let mut pt = PageTables::<F>::new(&mut a).unwrap();
    let b = at.boundary;
    pt.map(&mut a, b - 8 * P, 0x2000_0000, 4 * P, R | W | U)
        .unwrap();
    let before = collect(&pt, &a, b - (1 << 30), 2 << 30);
    assert_eq!(a.live(), 4);
    // Needs 3 more tables; fails at the third and leaves everything as it was.
    a.set_limit(6);
    let r = pt.map(&mut a, b - 4 * P, 0x9000_0000, 8 * P, R | U);
    assert_eq!(r, Err(MapError::OutOfTables));
    assert_eq!(a.live(), 4);
    assert_eq!(a.freed.len(), 2);
    assert_eq!(collect(&pt, &a, b - (1 << 30), 2 << 30), before);
    // A range that fits in the existing tables still maps.
    assert_eq!(
        pt.map(&mut a, b - 4 * P, 0x9000_0000, 4 * P, R | U),
        Ok(false)
    );
    a.set_limit(usize::MAX);
    assert_eq!(
        pt.map(&mut a, b - 4 * P, 0x9000_0000, 8 * P, R | U),
        Ok(false)
    );
    assert_eq!(a.live(), 7);
    pt.release(&mut a);
    assert_eq!(a.live(), 0);
}

#[test]
fn share_upper_half() {
    let mut a = TestAlloc::new();
    let text = x86_64::UPPER_START + (100 << 30);
    let percpu = u64::MAX - (16 * P - 1);
    let mut kernel = PageTables::<X86_64>::new(&mut a).unwrap();
    kernel
        .map(&mut a, text, 0x20_0000, 4 * P, R | X | G)
        .unwrap();
    kernel
        .map(&mut a, percpu, 0x40_0000, 16 * P, R | W | G)
        .unwrap();
    kernel.map(&mut a, 0x40_0000, 0x40_0000, P, R | W).unwrap();
    let kernel_tables = a.live();

    let mut app = PageTables::<X86_64>::new(&mut a).unwrap();
    app.map(&mut a, 0x40_0000, 0x900_0000, P, R | W | U)
        .unwrap();
    // Upper-half tables the app owned are replaced.
    app.map(&mut a, text, 0x1234_0000, P, R | U).unwrap();
    assert_eq!(app.share_upper_from(&mut a, &kernel), Ok(true));
    assert_eq!(a.live(), kernel_tables + 4);
    assert_eq!(app.translate(&a, text + P), Some((0x20_1000, R | X | G)));
    assert_eq!(app.translate(&a, percpu), Some((0x40_0000, R | W | G)));
    assert_eq!(app.translate(&a, 0x40_0000), Some((0x900_0000, R | W | U)));
    // Read-only through the app.
    assert_eq!(app.map(&mut a, text, 0, P, R), Err(MapError::Shared));
    assert_eq!(app.unmap(&mut a, text, P), Err(MapError::Shared));
    assert_eq!(app.protect(&a, text, P, R), Err(MapError::Shared));
    assert_eq!(collect(&app, &a, text, 8 * P).len(), 4);
    // The kernel may not take another upper half while lending its own.
    let mut other = PageTables::<X86_64>::new(&mut a).unwrap();
    assert_eq!(
        kernel.share_upper_from(&mut a, &other),
        Err(MapError::Shared)
    );
    // A second borrower, and one that borrows from a borrower.
    assert_eq!(other.share_upper_from(&mut a, &app), Ok(false));
    assert_eq!(other.translate(&a, text), Some((0x20_0000, R | X | G)));

    // Kernel edits show through, even after the kernel emptied a shared subtree.
    kernel
        .map(&mut a, text + (2 << 20), 0x60_0000, P, R | W)
        .unwrap();
    assert_eq!(
        app.translate(&a, text + (2 << 20)),
        Some((0x60_0000, R | W))
    );
    assert_eq!(kernel.unmap(&mut a, x86_64::UPPER_START, 1 << 46), Ok(true));
    assert_eq!(app.translate(&a, text), None);
    kernel.map(&mut a, text, 0x20_0000, P, R | X | G).unwrap();
    assert_eq!(other.translate(&a, text), Some((0x20_0000, R | X | G)));

    let live = a.live();
    app.release(&mut a);
    other.release(&mut a);
    assert_eq!(a.live(), live - 4 - 1);
    assert_eq!(kernel.translate(&a, text), Some((0x20_0000, R | X | G)));
    assert_eq!(
        kernel.translate(&a, percpu + 15 * P),
        Some((0x40_f000, R | W | G))
    );
    assert_eq!(kernel.translate(&a, 0x40_0000), Some((0x40_0000, R | W)));
    kernel.release(&mut a);
    assert_eq!(a.live(), 0);
}

#[test]
fn error_messages() {
    use std::string::ToString;
    assert_eq!(MapError::OutOfTables.to_string(), "out of page-table pages");
    assert_eq!(
        MapError::Misaligned.to_string(),
        "address or length not page-aligned"
    );
}
