//! What a trap from EL0 was, from the exception syndrome (ESR_EL1) and fault address
//! (FAR_EL1) the entry code saved.

use super::layout::kind;
use crate::trap::{Access, Trap};

/// Exception classes (ESR_EL1.EC) the sentry tells apart.
pub mod ec {
    /// An instruction the CPU does not know (or that is disabled): SIGILL on Linux.
    pub const UNKNOWN: u8 = 0x00;
    pub const ILLEGAL_STATE: u8 = 0x0e;
    pub const SVC64: u8 = 0x15;
    /// A trapped `MRS`/`MSR` (e.g. a system register EL0 may not read).
    pub const SYS_REG: u8 = 0x18;
    pub const INSTRUCTION_ABORT_LOWER: u8 = 0x20;
    pub const PC_ALIGNMENT: u8 = 0x22;
    pub const DATA_ABORT_LOWER: u8 = 0x24;
    pub const SP_ALIGNMENT: u8 = 0x26;
    pub const FP_EXCEPTION: u8 = 0x2c;
    pub const BRK64: u8 = 0x3c;
}

/// The exception class of syndrome `esr`.
pub const fn class(esr: u64) -> u8 {
    ((esr >> 26) & 0x3f) as u8
}

/// The trap the entry code reported: `kind` is the vector table entry that took it. `None`
/// for an exception of the entry code itself (EL1), which is a bug, not the application's.
pub fn decode(kind: u64, esr: u64, far: u64) -> Option<Trap> {
    match kind {
        kind::LOWER_SYNC => Some(decode_sync(esr, far)),
        kind::LOWER_IRQ | kind::LOWER_FIQ => Some(Trap::Interrupted),
        // An asynchronous external abort: nothing the application can retry.
        kind::LOWER_SERROR => Some(Trap::Exception {
            vector: 0x2f,
            code: esr,
        }),
        _ => None,
    }
}

fn decode_sync(esr: u64, far: u64) -> Trap {
    let status = esr & 0x3f;
    let abort = |access| match status {
        // Translation faults (levels 0-3): nothing mapped. Address-size faults come from
        // addresses beyond the 48-bit range, which nothing maps either.
        0b00_0000..=0b00_0111 => Trap::Fault {
            addr: far,
            access,
            present: false,
        },
        // Access-flag and permission faults: a mapped page that does not allow this access.
        0b00_1000..=0b00_1111 => Trap::Fault {
            addr: far,
            access,
            present: true,
        },
        // Alignment, external aborts, TLB conflicts: SIGBUS territory.
        _ => Trap::Exception {
            vector: class(esr),
            code: esr,
        },
    };
    match class(esr) {
        ec::SVC64 => Trap::Syscall,
        ec::DATA_ABORT_LOWER => {
            // WnR; cache maintenance (CM) on a page counts as a read, as on Linux.
            let write = esr & (1 << 6) != 0 && esr & (1 << 8) == 0;
            abort(if write { Access::Write } else { Access::Read })
        }
        ec::INSTRUCTION_ABORT_LOWER => abort(Access::Execute),
        other => Trap::Exception {
            vector: other,
            code: esr,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn esr(ec: u8, iss: u64) -> u64 {
        ((ec as u64) << 26) | (1 << 25) | iss
    }

    #[test]
    fn syscalls_and_aborts() {
        assert_eq!(
            decode(kind::LOWER_SYNC, esr(ec::SVC64, 0), 0),
            Some(Trap::Syscall)
        );
        // Data abort, translation fault level 3, write.
        assert_eq!(
            decode(
                kind::LOWER_SYNC,
                esr(ec::DATA_ABORT_LOWER, 0b111 | 1 << 6),
                0x1234
            ),
            Some(Trap::Fault {
                addr: 0x1234,
                access: Access::Write,
                present: false
            })
        );
        // Permission fault level 3, read.
        assert_eq!(
            decode(kind::LOWER_SYNC, esr(ec::DATA_ABORT_LOWER, 0b1111), 0x5000),
            Some(Trap::Fault {
                addr: 0x5000,
                access: Access::Read,
                present: true
            })
        );
        // Cache maintenance with WnR set is a read.
        assert_eq!(
            decode(
                kind::LOWER_SYNC,
                esr(ec::DATA_ABORT_LOWER, 0b111 | 1 << 6 | 1 << 8),
                8
            ),
            Some(Trap::Fault {
                addr: 8,
                access: Access::Read,
                present: false
            })
        );
        assert_eq!(
            decode(
                kind::LOWER_SYNC,
                esr(ec::INSTRUCTION_ABORT_LOWER, 0b1101),
                0x9000
            ),
            Some(Trap::Fault {
                addr: 0x9000,
                access: Access::Execute,
                present: true
            })
        );
    }

    #[test]
    fn exceptions_and_interrupts() {
        let alignment = esr(ec::DATA_ABORT_LOWER, 0b10_0001);
        assert_eq!(
            decode(kind::LOWER_SYNC, alignment, 3),
            Some(Trap::Exception {
                vector: ec::DATA_ABORT_LOWER,
                code: alignment
            })
        );
        let brk = esr(ec::BRK64, 0x7);
        assert_eq!(
            decode(kind::LOWER_SYNC, brk, 0),
            Some(Trap::Exception {
                vector: ec::BRK64,
                code: brk
            })
        );
        assert_eq!(decode(kind::LOWER_IRQ, 0, 0), Some(Trap::Interrupted));
        assert_eq!(decode(4, esr(ec::SVC64, 0), 0), None);
    }
}
