//! The global descriptor table: flat 64-bit segments and the TSS descriptor.

use super::layout::GDT_ENTRIES;

// Access byte bits (descriptor bits 40..48) and flag nibble (bits 52..56).
const ACCESSED: u64 = 1 << 40;
const WRITABLE_OR_READABLE: u64 = 1 << 41;
const EXECUTABLE: u64 = 1 << 43;
const CODE_OR_DATA: u64 = 1 << 44;
const DPL3: u64 = 3 << 45;
const PRESENT: u64 = 1 << 47;
const LIMIT_MAX: u64 = 0xffff | (0xf << 48);
const LONG_MODE: u64 = 1 << 53;
const DEFAULT_32: u64 = 1 << 54;
const GRANULARITY_4K: u64 = 1 << 55;

const COMMON: u64 = ACCESSED | WRITABLE_OR_READABLE | CODE_OR_DATA | PRESENT | LIMIT_MAX;

pub const KERNEL_CODE64: u64 = COMMON | EXECUTABLE | LONG_MODE | GRANULARITY_4K;
pub const KERNEL_DATA: u64 = COMMON | DEFAULT_32 | GRANULARITY_4K;
pub const USER_CODE32: u64 = COMMON | EXECUTABLE | DEFAULT_32 | GRANULARITY_4K | DPL3;
pub const USER_DATA: u64 = KERNEL_DATA | DPL3;
pub const USER_CODE64: u64 = KERNEL_CODE64 | DPL3;

/// Size of a 64-bit TSS minus one, as the descriptor limit wants it.
pub const TSS_LIMIT: u64 = super::tss::TSS_SIZE as u64 - 1;
/// System descriptor type 9: an available 64-bit TSS.
const TSS_AVAILABLE: u64 = 0x9 << 40;

/// The two 8-byte halves of the 16-byte descriptor of a TSS at guest-virtual `base`.
pub const fn tss_descriptor(base: u64) -> [u64; 2] {
    let low = (TSS_LIMIT & 0xffff)
        | ((base & 0xff_ffff) << 16)
        | TSS_AVAILABLE
        | PRESENT
        | (((TSS_LIMIT >> 16) & 0xf) << 48)
        | (((base >> 24) & 0xff) << 56);
    [low, base >> 32]
}

/// The whole GDT of one CPU whose TSS is at guest-virtual `tss_base`, in the order of the
/// selectors in `layout`.
pub const fn build(tss_base: u64) -> [u64; GDT_ENTRIES] {
    let tss = tss_descriptor(tss_base);
    [
        0,
        KERNEL_CODE64,
        KERNEL_DATA,
        USER_CODE32,
        USER_DATA,
        USER_CODE64,
        tss[0],
        tss[1],
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x86_64::layout::{KERNEL_CS, KERNEL_DS, TSS_SELECTOR, USER_CS, USER_DS};

    #[test]
    fn flat_segments_have_the_architectural_encodings() {
        // Values every x86_64 kernel uses for flat long-mode segments.
        assert_eq!(KERNEL_CODE64, 0x00af_9b00_0000_ffff);
        assert_eq!(KERNEL_DATA, 0x00cf_9300_0000_ffff);
        assert_eq!(USER_CODE64, 0x00af_fb00_0000_ffff);
        assert_eq!(USER_DATA, 0x00cf_f300_0000_ffff);
        assert_eq!(USER_CODE32, 0x00cf_fb00_0000_ffff);
    }

    #[test]
    fn selectors_index_the_right_entries() {
        let gdt = build(0);
        assert_eq!(gdt[(KERNEL_CS >> 3) as usize], KERNEL_CODE64);
        assert_eq!(gdt[(KERNEL_DS >> 3) as usize], KERNEL_DATA);
        assert_eq!(gdt[(USER_CS >> 3) as usize], USER_CODE64);
        assert_eq!(gdt[(USER_DS >> 3) as usize], USER_DATA);
        assert_eq!(USER_CS & 3, 3);
    }

    #[test]
    fn tss_descriptor_splits_the_base() {
        let base = 0xffff_ff80_1234_5678;
        let gdt = build(base);
        let i = (TSS_SELECTOR >> 3) as usize;
        let (low, high) = (gdt[i], gdt[i + 1]);
        assert_eq!(low & 0xffff, TSS_LIMIT);
        assert_eq!((low >> 16) & 0xff_ffff, 0x34_5678);
        assert_eq!((low >> 56) & 0xff, 0x12);
        assert_eq!(
            (low >> 40) & 0xff,
            0x89,
            "present, DPL 0, available 64-bit TSS"
        );
        assert_eq!(high, 0xffff_ff80);
    }
}
