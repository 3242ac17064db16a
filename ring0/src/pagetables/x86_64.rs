//! The x86_64 4-level format (PML4, PDPT, PD, PT) with 48-bit canonical addresses.
//!
//! One root covers both halves: lower `0..0x0000_8000_0000_0000` (root entries 0..256) and
//! upper `0xffff_8000_0000_0000..=u64::MAX` (root entries 256..512); a range must stay in one
//! half. Leaves always carry A, and D when writable, so the CPU never writes the tables back;
//! table entries are P|RW|US|A without NX, leaving permissions to the leaf. Clearing NX for
//! executable pages needs EFER.NXE; GLOBAL needs CR4.PGE.

use super::{Format, Perms, PhysAddr, SharedUpperHalf};

/// The x86_64 4-level format.
#[derive(Clone, Copy, Debug)]
pub struct X86_64;

pub const PRESENT: u64 = 1 << 0;
pub const WRITABLE: u64 = 1 << 1;
pub const USER: u64 = 1 << 2;
pub const ACCESSED: u64 = 1 << 5;
pub const DIRTY: u64 = 1 << 6;
pub const GLOBAL: u64 = 1 << 8;
pub const NO_EXECUTE: u64 = 1 << 63;
/// Physical address bits 51:12 of an entry.
pub const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;

/// End of the lower canonical half (exclusive).
pub const LOWER_END: u64 = 1 << 47;
/// Start of the upper canonical half.
pub const UPPER_START: u64 = 0xffff_8000_0000_0000;

/// CR3 bit 63: keep the PCID's TLB entries (only with CR4.PCIDE set).
pub const CR3_NOFLUSH: u64 = 1 << 63;
/// Largest PCID.
pub const MAX_PCID: u16 = 4095;

impl Format for X86_64 {
    const MAX_PA: u64 = 1 << 52;
    const FIRST_UPPER_INDEX: usize = 256;

    fn va_range_valid(first: u64, last: u64) -> bool {
        last < LOWER_END || first >= UPPER_START
    }

    fn table_entry(pa: PhysAddr) -> u64 {
        (pa & ADDR_MASK) | PRESENT | WRITABLE | USER | ACCESSED
    }

    fn leaf_entry(pa: PhysAddr, perms: Perms) -> u64 {
        let mut e = (pa & ADDR_MASK) | PRESENT | ACCESSED;
        if perms.contains(Perms::WRITE) {
            e |= WRITABLE | DIRTY;
        }
        if perms.contains(Perms::USER) {
            e |= USER;
        }
        if perms.contains(Perms::GLOBAL) {
            e |= GLOBAL;
        }
        if !perms.contains(Perms::EXECUTE) {
            e |= NO_EXECUTE;
        }
        e
    }

    fn is_valid(entry: u64) -> bool {
        entry & PRESENT != 0
    }

    fn entry_addr(entry: u64) -> PhysAddr {
        entry & ADDR_MASK
    }

    fn leaf_perms(entry: u64) -> Perms {
        let mut p = Perms::READ;
        p.set(Perms::WRITE, entry & WRITABLE != 0);
        p.set(Perms::USER, entry & USER != 0);
        p.set(Perms::GLOBAL, entry & GLOBAL != 0);
        p.set(Perms::EXECUTE, entry & NO_EXECUTE == 0);
        p
    }
}

impl SharedUpperHalf for X86_64 {}

/// The CR3 value selecting the tables at `root`, with `pcid` when CR4.PCIDE is set.
///
/// `noflush` keeps the PCID's cached translations; it is ignored without a PCID, where bit 63
/// is reserved. `root` must be page-aligned and `pcid` at most [`MAX_PCID`].
pub const fn cr3_value(root: PhysAddr, pcid: Option<u16>, noflush: bool) -> u64 {
    debug_assert!(root & !ADDR_MASK == 0);
    match pcid {
        Some(pcid) => {
            debug_assert!(pcid <= MAX_PCID);
            let flag = if noflush { CR3_NOFLUSH } else { 0 };
            (root & ADDR_MASK) | (pcid as u64 & MAX_PCID as u64) | flag
        }
        None => root & ADDR_MASK,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaf_encodings() {
        let user_rw = Perms::READ | Perms::WRITE | Perms::USER;
        // P|RW|US|A|D, NX.
        assert_eq!(
            X86_64::leaf_entry(0x123_4000, user_rw),
            0x8000_0000_0123_4067
        );
        // Kernel read-only executable global text: P|A|G.
        let text = Perms::READ | Perms::EXECUTE | Perms::GLOBAL;
        assert_eq!(X86_64::leaf_entry(0x20_0000, text), 0x0000_0000_0020_0121);
        // User read-only, no execute: P|US|A, NX.
        let user_ro = Perms::READ | Perms::USER;
        assert_eq!(
            X86_64::leaf_entry(0xf_ffff_ffff_f000, user_ro),
            0x800f_ffff_ffff_f025
        );
        assert_eq!(X86_64::table_entry(0x10_5000), 0x10_5027);
    }

    #[test]
    fn leaf_decoding() {
        let all = Perms::READ | Perms::WRITE | Perms::EXECUTE | Perms::USER;
        assert_eq!(X86_64::leaf_perms(X86_64::leaf_entry(0x1000, all)), all);
        assert_eq!(
            X86_64::leaf_perms(0x8000_0000_0123_4067),
            Perms::READ | Perms::WRITE | Perms::USER
        );
        assert_eq!(X86_64::entry_addr(0x8000_0000_0123_4067), 0x123_4000);
    }

    #[test]
    fn indices() {
        let va = 0xffff_8000_4020_3000u64;
        assert_eq!(X86_64::index(va, 3), 256);
        assert_eq!(X86_64::index(va, 2), 1);
        assert_eq!(X86_64::index(va, 1), 1);
        assert_eq!(X86_64::index(va, 0), 3);
    }

    #[test]
    fn cr3() {
        assert_eq!(cr3_value(0x1234_5000, None, false), 0x1234_5000);
        assert_eq!(cr3_value(0x1234_5000, None, true), 0x1234_5000);
        assert_eq!(cr3_value(0x1234_5000, Some(7), false), 0x1234_5007);
        assert_eq!(
            cr3_value(0x1234_5000, Some(4095), true),
            0x8000_0000_1234_5fff
        );
    }
}
