//! Exception vectors and how a trap report turns into a [`Trap`].

use crate::trap::{Access, Trap};

pub const DIVIDE_ERROR: u8 = 0;
pub const DEBUG: u8 = 1;
pub const NMI: u8 = 2;
pub const BREAKPOINT: u8 = 3;
pub const OVERFLOW: u8 = 4;
pub const BOUND_RANGE: u8 = 5;
pub const INVALID_OPCODE: u8 = 6;
pub const DEVICE_NOT_AVAILABLE: u8 = 7;
pub const DOUBLE_FAULT: u8 = 8;
pub const INVALID_TSS: u8 = 10;
pub const SEGMENT_NOT_PRESENT: u8 = 11;
pub const STACK_FAULT: u8 = 12;
pub const GENERAL_PROTECTION: u8 = 13;
pub const PAGE_FAULT: u8 = 14;
pub const X87_FLOATING_POINT: u8 = 16;
pub const ALIGNMENT_CHECK: u8 = 17;
pub const MACHINE_CHECK: u8 = 18;
pub const SIMD_FLOATING_POINT: u8 = 19;
pub const VIRTUALIZATION: u8 = 20;
pub const CONTROL_PROTECTION: u8 = 21;
pub const HYPERVISOR_INJECTION: u8 = 28;
pub const VMM_COMMUNICATION: u8 = 29;
pub const SECURITY: u8 = 30;

/// Whether the CPU pushes an error code for `vector`.
pub const fn has_error_code(vector: u8) -> bool {
    matches!(vector, 8 | 10..=14 | 17 | 21 | 29 | 30)
}

// Page-fault error code bits.
const PF_PRESENT: u64 = 1 << 0;
const PF_WRITE: u64 = 1 << 1;
const PF_FETCH: u64 = 1 << 4;

/// The trap for exception `vector` with error `code`; `cr2` is only read for page faults.
pub fn decode(vector: u8, code: u64, cr2: u64) -> Trap {
    if vector != PAGE_FAULT {
        return Trap::Exception { vector, code };
    }
    let access = if code & PF_FETCH != 0 {
        Access::Execute
    } else if code & PF_WRITE != 0 {
        Access::Write
    } else {
        Access::Read
    };
    Trap::Fault {
        addr: cr2,
        access,
        present: code & PF_PRESENT != 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_fault_error_codes() {
        assert_eq!(
            decode(PAGE_FAULT, 0b00110, 0x1000),
            Trap::Fault {
                addr: 0x1000,
                access: Access::Write,
                present: false
            }
        );
        assert_eq!(
            decode(PAGE_FAULT, 0b10101, 0x2000),
            Trap::Fault {
                addr: 0x2000,
                access: Access::Execute,
                present: true
            }
        );
        assert_eq!(
            decode(PAGE_FAULT, 0b00100, 0x3000),
            Trap::Fault {
                addr: 0x3000,
                access: Access::Read,
                present: false
            }
        );
    }

    #[test]
    fn other_vectors_keep_their_code() {
        assert_eq!(
            decode(GENERAL_PROTECTION, 0x18, 0xdead),
            Trap::Exception {
                vector: 13,
                code: 0x18
            }
        );
        assert!(has_error_code(PAGE_FAULT) && has_error_code(DOUBLE_FAULT));
        assert!(!has_error_code(INVALID_OPCODE) && !has_error_code(BREAKPOINT));
    }
}
