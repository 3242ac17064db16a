//! The aarch64 signal frame (`struct rt_sigframe`, then a frame record) on the application
//! stack: built when a handler is entered, read back by `rt_sigreturn`.
//!
//! Layout as Linux's: siginfo (128 bytes), then the ucontext (flags, link, stack, mask, and
//! at offset 176 the sigcontext: fault address, x0-x30, sp, pc, pstate, then 4 KiB of
//! records). The records area holds only the terminating record: the FP/SIMD registers stay
//! with the platform's context, so a handler must preserve the ones the procedure-call
//! standard asks it to (as compiled code does).

use abi::aarch64::TaskRegs;
use abi::{Errno, SigInfo, SigSet, StackT};

use super::{get, put};

const INFO: usize = 0;
const UC: usize = 128;
const UC_STACK: usize = UC + 16;
const SIGMASK: usize = UC + 40;
const MCONTEXT: usize = UC + 176;
const FAULT_ADDRESS: usize = MCONTEXT;
const REGS: usize = MCONTEXT + 8;
const SP: usize = REGS + 31 * 8;
const PC: usize = SP + 8;
const PSTATE: usize = PC + 8;
/// `sizeof(struct rt_sigframe)`: the sigcontext's records area is 4096 bytes, 16-aligned.
const FRAME_SIZE: u64 = (PSTATE as u64 + 8).next_multiple_of(16) + 4096;
/// The frame record (x29, x30) above the frame, which makes the handler's frame chain
/// continue into the interrupted code.
const RECORD_SIZE: u64 = 16;
/// The PSTATE bits sigreturn may restore: the condition flags.
const PSTATE_USER: u64 = 0xf000_0000;

/// The frame for a handler entered with `regs` (the interrupted state), and the registers
/// that enter it. `sp` is where the frame goes below (the alternate stack's top or SP); the
/// handler returns to `restorer`.
#[allow(clippy::too_many_arguments)]
pub fn build_frame(
    regs: &TaskRegs,
    sp: u64,
    _on_altstack: bool,
    info: &SigInfo,
    handler: u64,
    restorer: u64,
    old_mask: SigSet,
    altstack: &StackT,
) -> (u64, Vec<u8>, TaskRegs) {
    let record = sp.wrapping_sub(RECORD_SIZE) & !15;
    let frame = record.wrapping_sub(FRAME_SIZE);
    let mut buf = vec![0u8; (FRAME_SIZE + RECORD_SIZE) as usize];
    buf[INFO..INFO + 128].copy_from_slice(&info.to_bytes());
    put(&mut buf, UC_STACK, altstack.ss_sp);
    buf[UC_STACK + 8..UC_STACK + 12].copy_from_slice(&altstack.ss_flags.to_le_bytes());
    put(&mut buf, UC_STACK + 16, altstack.ss_size);
    put(&mut buf, SIGMASK, old_mask.bits());
    let fault = match info.si_signo {
        abi::signal::SIGSEGV | abi::signal::SIGBUS => info.addr(),
        _ => 0,
    };
    put(&mut buf, FAULT_ADDRESS, fault);
    for (i, v) in regs.regs.iter().enumerate() {
        put(&mut buf, REGS + 8 * i, *v);
    }
    put(&mut buf, SP, regs.sp);
    put(&mut buf, PC, regs.pc);
    put(&mut buf, PSTATE, regs.pstate);
    put(&mut buf, FRAME_SIZE as usize, regs.regs[29]);
    put(&mut buf, FRAME_SIZE as usize + 8, regs.regs[30]);

    let mut entry = *regs;
    entry.regs[0] = info.si_signo as u64;
    entry.regs[1] = frame + INFO as u64;
    entry.regs[2] = frame + UC as u64;
    entry.regs[29] = record;
    entry.regs[30] = restorer;
    entry.sp = frame;
    entry.pc = handler;
    (frame, buf, entry)
}

/// Read the frame `rt_sigreturn` finds at SP, and return the registers and mask it restores.
/// `frame` holds `FRAME_BYTES` bytes from SP.
pub fn restore_frame(frame: &[u8], current: &TaskRegs) -> Result<(TaskRegs, SigSet), Errno> {
    if frame.len() < FRAME_SIZE as usize {
        return Err(Errno::EFAULT);
    }
    let mut r = *current;
    for i in 0..31 {
        r.regs[i] = get(frame, REGS + 8 * i);
    }
    r.sp = get(frame, SP);
    r.pc = get(frame, PC);
    r.pstate = get(frame, PSTATE) & PSTATE_USER;
    Ok((r, SigSet::from_bits(get(frame, SIGMASK))))
}

/// How many bytes of frame `rt_sigreturn` reads, from SP.
pub const FRAME_BYTES: u64 = FRAME_SIZE;
/// Where the frame starts relative to SP at `rt_sigreturn` (the handler has returned with the
/// frame's SP).
pub const FRAME_AT_SIGRETURN: u64 = 0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_linux() {
        assert_eq!(MCONTEXT, 304);
        assert_eq!(SP, 560);
        assert_eq!(FRAME_SIZE, 4688);
    }

    #[test]
    fn frame_round_trip_and_alignment() {
        let mut regs = TaskRegs::default();
        regs.regs[0] = 1;
        regs.regs[19] = 19;
        regs.regs[29] = 0x7fff_0000_2000;
        regs.regs[30] = 0x40_0abc;
        regs.sp = 0x7fff_0000_1238;
        regs.pc = 0x40_1000;
        regs.pstate = 0x6000_0000;
        regs.tpidr_el0 = 0x7777;
        let info = SigInfo::kill(10, 1, 0);
        let mask = SigSet::EMPTY.with(12);
        let (frame, bytes, entry) = build_frame(
            &regs,
            regs.sp,
            false,
            &info,
            0x40_2000,
            0x40_3000,
            mask,
            &StackT::default(),
        );
        assert_eq!(entry.sp % 16, 0);
        assert!(frame + FRAME_SIZE + RECORD_SIZE <= regs.sp);
        assert_eq!(
            (entry.pc, entry.regs[0], entry.regs[30]),
            (0x40_2000, 10, 0x40_3000)
        );
        assert_eq!(entry.regs[2], frame + UC as u64);
        // The frame record continues the chain into the interrupted code.
        assert_eq!(entry.regs[29], frame + FRAME_SIZE);
        assert_eq!(get(&bytes, FRAME_SIZE as usize), 0x7fff_0000_2000);
        let (restored, m) = restore_frame(&bytes, &entry).unwrap();
        assert_eq!(m, mask);
        assert_eq!(restored, regs, "every register comes back, TLS untouched");
    }
}
