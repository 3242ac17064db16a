//! The interrupt descriptor table: the 32 exception vectors point at the entry stubs.

use super::exception::{BREAKPOINT, OVERFLOW};
use super::layout::{KERNEL_CS, VECTOR_STUB_STRIDE, VECTOR_STUBS};

/// A present 64-bit interrupt gate (interrupts stay disabled in the handler).
const INTERRUPT_GATE: u64 = 0x8e;

/// The 16-byte gate for a handler at `handler`. `dpl` 3 lets ring 3 raise the vector with
/// `int n`; otherwise that is a #GP.
pub const fn gate(handler: u64, selector: u16, ist: u8, dpl: u8) -> [u64; 2] {
    let low = (handler & 0xffff)
        | ((selector as u64) << 16)
        | (((ist & 7) as u64) << 32)
        | ((INTERRUPT_GATE | ((dpl as u64 & 3) << 5)) << 40)
        | (((handler >> 16) & 0xffff) << 48);
    [low, handler >> 32]
}

/// The interrupt stack every exception uses (IST1, the top of the per-CPU stack): a trap
/// taken at ring 0 must not push its frame onto the interrupted code's own stack, where it
/// would overwrite the red zone below the stack pointer that compiled code may use.
pub const EXCEPTION_IST: u8 = 1;

/// The whole IDT for entry stubs at guest-virtual `code_va`. Vectors above 31 are not
/// present: nothing in the guest raises interrupts, and an application's `int n` for them
/// becomes a #GP it cannot turn into anything else.
pub fn build(code_va: u64) -> [[u64; 2]; 256] {
    let mut idt = [[0u64; 2]; 256];
    for vector in 0..VECTOR_STUBS {
        let dpl = if vector == BREAKPOINT as u64 || vector == OVERFLOW as u64 {
            3
        } else {
            0
        };
        idt[vector as usize] = gate(
            code_va + vector * VECTOR_STUB_STRIDE,
            KERNEL_CS,
            EXCEPTION_IST,
            dpl,
        );
    }
    idt
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_encoding() {
        let g = gate(0xffff_ff80_0000_1234, KERNEL_CS, 0, 0);
        // offset[15:0]=0x1234, selector 8, type 0x8e, offset[31:16]=0.
        assert_eq!(g[0], 0x0000_8e00_0008_1234);
        assert_eq!(g[1], 0xffff_ff80);
        let g3 = gate(0, KERNEL_CS, 2, 3);
        assert_eq!((g3[0] >> 40) & 0xff, 0xee);
        assert_eq!((g3[0] >> 32) & 7, 2);
    }

    #[test]
    fn vectors_point_at_their_stubs() {
        let idt = build(0xffff_ff80_0000_1000);
        let target = |v: usize| {
            (idt[v][0] & 0xffff) | (((idt[v][0] >> 48) & 0xffff) << 16) | (idt[v][1] << 32)
        };
        assert_eq!(target(0), 0xffff_ff80_0000_1000);
        assert_eq!(target(14), 0xffff_ff80_0000_1000 + 14 * VECTOR_STUB_STRIDE);
        assert_eq!((idt[3][0] >> 45) & 3, 3, "int3 is allowed from ring 3");
        assert_eq!((idt[13][0] >> 45) & 3, 0);
        assert_eq!((idt[14][0] >> 32) & 7, u64::from(EXCEPTION_IST));
        assert_eq!(idt[32], [0, 0]);
    }
}
