//! Control-register, EFER and MSR values of the guest kernel.

use super::layout::{KERNEL_CS, USER_BASE};

pub const CR0_PE: u64 = 1 << 0;
pub const CR0_MP: u64 = 1 << 1;
pub const CR0_ET: u64 = 1 << 4;
pub const CR0_NE: u64 = 1 << 5;
pub const CR0_WP: u64 = 1 << 16;
pub const CR0_AM: u64 = 1 << 18;
pub const CR0_PG: u64 = 1 << 31;
/// Protected mode with paging; WP so ring 0 honours read-only pages too.
pub const CR0: u64 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_PG;

pub const CR4_PAE: u64 = 1 << 5;
pub const CR4_PGE: u64 = 1 << 7;
pub const CR4_OSFXSR: u64 = 1 << 9;
pub const CR4_OSXMMEXCPT: u64 = 1 << 10;
pub const CR4_FSGSBASE: u64 = 1 << 16;
pub const CR4_PCIDE: u64 = 1 << 17;
pub const CR4_OSXSAVE: u64 = 1 << 18;
/// Always set; PCIDE and OSXSAVE are added when the vCPU supports them.
pub const CR4_BASE: u64 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;

pub const EFER_SCE: u64 = 1 << 0;
pub const EFER_LME: u64 = 1 << 8;
pub const EFER_LMA: u64 = 1 << 10;
pub const EFER_NXE: u64 = 1 << 11;
pub const EFER: u64 = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;

pub const MSR_STAR: u32 = 0xc000_0081;
pub const MSR_LSTAR: u32 = 0xc000_0082;
pub const MSR_CSTAR: u32 = 0xc000_0083;
pub const MSR_SFMASK: u32 = 0xc000_0084;
pub const MSR_FS_BASE: u32 = 0xc000_0100;
pub const MSR_GS_BASE: u32 = 0xc000_0101;
pub const MSR_KERNEL_GS_BASE: u32 = 0xc000_0102;

/// STAR: `syscall` loads CS from bits 32..48, `sysret` from bits 48..64 (+16 for 64-bit).
pub const STAR: u64 = ((KERNEL_CS as u64) << 32) | ((USER_BASE as u64 | 3) << 48);

/// CR3 with bit 63 set keeps the PCID's TLB entries (only meaningful with CR4.PCIDE).
pub const CR3_NOFLUSH: u64 = 1 << 63;

/// CPUID feature bits the platform checks.
pub mod cpuid {
    /// Leaf 1, ECX.
    pub const PCID: u32 = 1 << 17;
    pub const XSAVE: u32 = 1 << 26;
    /// Leaf 7, EBX.
    pub const FSGSBASE: u32 = 1 << 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_selects_the_gdt_layout() {
        use crate::x86_64::layout::{KERNEL_DS, USER_CS, USER_DS};
        let kernel = (STAR >> 32) & 0xffff;
        let user = (STAR >> 48) & 0xffff;
        assert_eq!(kernel, KERNEL_CS as u64);
        assert_eq!(kernel + 8, KERNEL_DS as u64);
        assert_eq!(user + 16, USER_CS as u64, "sysret's 64-bit CS");
        assert_eq!(user + 8, USER_DS as u64, "sysret's SS");
    }
}
