//! The aarch64 format: 4 KiB granule, 4 levels, 48-bit virtual addresses (T0SZ = T1SZ = 16).
//!
//! The two halves are separate tables: TTBR0_EL1 translates `0..0x0001_0000_0000_0000` and
//! TTBR1_EL1 translates `0xffff_0000_0000_0000..=u64::MAX`; VA bits 63:48 select the table and
//! are not part of the walk. So each half has its own format type, and a range is valid only
//! if its bits 63:48 are all zero ([`Aarch64`]) or all one ([`Aarch64Upper`]); the walk itself
//! uses bits 47:12. There is no shared upper half within one root: the sentry's upper half is
//! simply the one TTBR1 table, while TTBR0 switches between address spaces.
//!
//! Leaves are normal memory (MAIR index [`NORMAL_ATTR_INDEX`]), inner shareable, with AF set
//! so no access-flag fault is taken. User pages are non-global (tagged with the ASID) and never
//! executable at EL1 (PXN); supervisor pages are never executable at EL0 (UXN). Table
//! descriptors set no APTable/XNTable bits, leaving permissions to the leaf.

use super::{Format, Perms, PhysAddr};

/// aarch64 tables for one half; `TTBR1` selects the upper half.
#[derive(Clone, Copy, Debug)]
pub struct Aarch64Tables<const TTBR1: bool>;

/// Tables for TTBR0_EL1, the lower half: application address spaces.
pub type Aarch64 = Aarch64Tables<false>;
/// Tables for TTBR1_EL1, the upper half: the sentry's.
pub type Aarch64Upper = Aarch64Tables<true>;

pub const VALID: u64 = 1 << 0;
/// In levels 0-2: a table (not a block); in level 3: a page.
pub const TABLE_OR_PAGE: u64 = 1 << 1;
/// `AttrIndx[2:0]` in bits 4:2: the MAIR_EL1 attribute used for every leaf.
pub const NORMAL_ATTR_INDEX: u64 = 0;
const ATTR_INDEX_SHIFT: u32 = 2;
/// `AP[1]`: accessible from EL0.
pub const AP_EL0: u64 = 1 << 6;
/// `AP[2]`: read-only.
pub const AP_READ_ONLY: u64 = 1 << 7;
/// `SH[1:0] = 0b11`: inner shareable.
pub const INNER_SHAREABLE: u64 = 0b11 << 8;
/// Access flag.
pub const AF: u64 = 1 << 10;
/// Not global: the TLB entry belongs to the current ASID.
pub const NOT_GLOBAL: u64 = 1 << 11;
/// Privileged (EL1) execute-never.
pub const PXN: u64 = 1 << 53;
/// Unprivileged (EL0) execute-never.
pub const UXN: u64 = 1 << 54;
/// Output address bits 47:12.
pub const ADDR_MASK: u64 = 0x0000_ffff_ffff_f000;

/// End of the TTBR0 range (exclusive).
pub const LOWER_END: u64 = 1 << 48;
/// Start of the TTBR1 range.
pub const UPPER_START: u64 = 0xffff_0000_0000_0000;

impl<const TTBR1: bool> Format for Aarch64Tables<TTBR1> {
    const MAX_PA: u64 = 1 << 48;

    fn va_range_valid(first: u64, last: u64) -> bool {
        if TTBR1 {
            first >= UPPER_START
        } else {
            last < LOWER_END
        }
    }

    fn table_entry(pa: PhysAddr) -> u64 {
        (pa & ADDR_MASK) | TABLE_OR_PAGE | VALID
    }

    fn leaf_entry(pa: PhysAddr, perms: Perms) -> u64 {
        let mut e = (pa & ADDR_MASK)
            | VALID
            | TABLE_OR_PAGE
            | (NORMAL_ATTR_INDEX << ATTR_INDEX_SHIFT)
            | INNER_SHAREABLE
            | AF;
        if !perms.contains(Perms::WRITE) {
            e |= AP_READ_ONLY;
        }
        let user = perms.contains(Perms::USER);
        let exec = perms.contains(Perms::EXECUTE);
        if user {
            e |= AP_EL0 | PXN;
            if !exec {
                e |= UXN;
            }
        } else {
            e |= UXN;
            if !exec {
                e |= PXN;
            }
        }
        if user || !perms.contains(Perms::GLOBAL) {
            e |= NOT_GLOBAL;
        }
        e
    }

    fn is_valid(entry: u64) -> bool {
        entry & VALID != 0
    }

    fn entry_addr(entry: u64) -> PhysAddr {
        entry & ADDR_MASK
    }

    fn leaf_perms(entry: u64) -> Perms {
        let user = entry & AP_EL0 != 0;
        let xn = if user { UXN } else { PXN };
        let mut p = Perms::READ;
        p.set(Perms::WRITE, entry & AP_READ_ONLY == 0);
        p.set(Perms::USER, user);
        p.set(Perms::EXECUTE, entry & xn == 0);
        p.set(Perms::GLOBAL, entry & NOT_GLOBAL == 0);
        p
    }
}

/// The TTBR0_EL1/TTBR1_EL1 value selecting the tables at `root` with `asid` (bits 63:48; with
/// 8-bit ASIDs, TCR_EL1.AS = 0, only bits 55:48 count). `root` must be page-aligned.
pub const fn ttbr_value(root: PhysAddr, asid: u16) -> u64 {
    debug_assert!(root & !ADDR_MASK == 0);
    ((asid as u64) << 48) | (root & ADDR_MASK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaf_encodings() {
        // Page, AttrIndx 0, AP=01 (EL0 RW), SH=11, AF, nG, PXN, UXN.
        let user_rw = Perms::READ | Perms::WRITE | Perms::USER;
        assert_eq!(
            Aarch64::leaf_entry(0x123_4000, user_rw),
            0x0060_0000_0123_4f43
        );
        // User read-only executable: AP=11, PXN only.
        let user_rx = Perms::READ | Perms::EXECUTE | Perms::USER;
        assert_eq!(
            Aarch64::leaf_entry(0x123_4000, user_rx),
            0x0020_0000_0123_4fc3
        );
        // Kernel global text: AP=10 (EL1 RO), global, UXN only.
        let text = Perms::READ | Perms::EXECUTE | Perms::GLOBAL;
        assert_eq!(
            Aarch64Upper::leaf_entry(0x4000_0000, text),
            0x0040_0000_4000_0783
        );
        // Kernel per-CPU data: AP=00, not global, PXN and UXN.
        let data = Perms::READ | Perms::WRITE;
        assert_eq!(
            Aarch64Upper::leaf_entry(0x4000_1000, data),
            0x0060_0000_4000_1f03
        );
        assert_eq!(Aarch64::table_entry(0x10_5000), 0x10_5003);
    }

    #[test]
    fn leaf_decoding() {
        for perms in [
            Perms::READ | Perms::WRITE | Perms::USER,
            Perms::READ | Perms::EXECUTE | Perms::USER,
            Perms::READ | Perms::EXECUTE | Perms::GLOBAL,
            Perms::READ | Perms::WRITE,
            Perms::READ,
        ] {
            assert_eq!(
                Aarch64::leaf_perms(Aarch64::leaf_entry(0x5000, perms)),
                perms
            );
        }
        assert_eq!(Aarch64::entry_addr(0x0060_0000_0123_4f43), 0x123_4000);
    }

    #[test]
    fn ranges() {
        assert!(Aarch64::va_range_valid(0, LOWER_END - 1));
        assert!(!Aarch64::va_range_valid(0, LOWER_END));
        assert!(!Aarch64::va_range_valid(UPPER_START, UPPER_START));
        assert!(Aarch64Upper::va_range_valid(UPPER_START, u64::MAX));
        assert!(!Aarch64Upper::va_range_valid(UPPER_START - 1, UPPER_START));
        assert_eq!(Aarch64Upper::index(UPPER_START, 3), 0);
        assert_eq!(Aarch64Upper::index(u64::MAX, 3), 511);
    }

    #[test]
    fn ttbr() {
        assert_eq!(ttbr_value(0x4008_0000, 0), 0x4008_0000);
        assert_eq!(ttbr_value(0x4008_0000, 0xab), 0x00ab_0000_4008_0000);
        assert_eq!(ttbr_value(0x4008_0000, 0xffff), 0xffff_0000_4008_0000);
    }
}
