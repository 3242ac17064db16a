//! The 64-bit task-state segment: where the CPU finds the ring-0 stack on a trap from ring 3.

pub const TSS_SIZE: usize = 104;
const RSP0_OFFSET: usize = 4;
const IST_OFFSET: usize = 36;
const IOMAP_BASE_OFFSET: usize = 102;

/// The bytes of a TSS whose ring-0 stack pointer is `rsp0` and whose interrupt stacks are
/// `ist` (IST1..IST7; 0 leaves one unused). The I/O permission bitmap offset points past the
/// end, so ring 3 has no I/O port access.
pub fn build(rsp0: u64, ist: [u64; 7]) -> [u8; TSS_SIZE] {
    let mut tss = [0u8; TSS_SIZE];
    tss[RSP0_OFFSET..RSP0_OFFSET + 8].copy_from_slice(&rsp0.to_le_bytes());
    for (i, sp) in ist.iter().enumerate() {
        let at = IST_OFFSET + 8 * i;
        tss[at..at + 8].copy_from_slice(&sp.to_le_bytes());
    }
    tss[IOMAP_BASE_OFFSET..].copy_from_slice(&(TSS_SIZE as u16).to_le_bytes());
    tss
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_at_architectural_offsets() {
        let tss = build(0x1122_3344_5566_7788, [0, 0xaa, 0, 0, 0, 0, 0x77]);
        assert_eq!(&tss[4..12], &0x1122_3344_5566_7788u64.to_le_bytes());
        assert_eq!(&tss[44..52], &0xaau64.to_le_bytes(), "IST2");
        assert_eq!(&tss[84..92], &0x77u64.to_le_bytes(), "IST7");
        assert_eq!(u16::from_le_bytes([tss[102], tss[103]]), 104);
    }
}
