//! The aarch64 signal frame (`struct rt_sigframe`, then a frame record) on the application
//! stack: built when a handler is entered, read back by `rt_sigreturn`.
//!
//! Layout as Linux's: siginfo (128 bytes), then the ucontext (flags, link, stack, mask, and
//! at offset 176 the sigcontext: fault address, x0-x30, sp, pc, pstate, then 4 KiB of
//! records). The records are the FP/SIMD one (`fpsimd_context`) and the terminating empty
//! one, so the interrupted code gets its vector registers back whatever the handler did.

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
/// The first record of the sigcontext's records area: `fpsimd_context` (magic, size, FPSR,
/// FPCR, then the 32 vector registers from offset 16).
const FPSIMD: usize = PSTATE + 8 + 8;
const FPSIMD_MAGIC: u32 = 0x4650_8001;
const FPSIMD_SIZE: u32 = 16 + 32 * 16;

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
    put32(&mut buf, FPSIMD, FPSIMD_MAGIC);
    put32(&mut buf, FPSIMD + 4, FPSIMD_SIZE);
    put32(&mut buf, FPSIMD + 8, regs.fp.fpsr as u32);
    put32(&mut buf, FPSIMD + 12, regs.fp.fpcr as u32);
    for (i, v) in regs.fp.v.iter().enumerate() {
        let at = FPSIMD + 16 + 16 * i;
        buf[at..at + 16].copy_from_slice(&v.to_le_bytes());
    }
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
    // The FP/SIMD record, if the handler left it in place (otherwise the registers stay as
    // they are).
    if get32(frame, FPSIMD) == FPSIMD_MAGIC && get32(frame, FPSIMD + 4) == FPSIMD_SIZE {
        r.fp.fpsr = u64::from(get32(frame, FPSIMD + 8));
        r.fp.fpcr = u64::from(get32(frame, FPSIMD + 12));
        for (i, v) in r.fp.v.iter_mut().enumerate() {
            let at = FPSIMD + 16 + 16 * i;
            let mut b = [0u8; 16];
            b.copy_from_slice(&frame[at..at + 16]);
            *v = u128::from_le_bytes(b);
        }
    }
    Ok((r, SigSet::from_bits(get(frame, SIGMASK))))
}

fn put32(buf: &mut [u8], at: usize, v: u32) {
    buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn get32(buf: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&buf[at..at + 4]);
    u32::from_le_bytes(b)
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
        assert_eq!(FPSIMD, 592);
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
        regs.fp.v[8] = 0x8888_0000_0000_0000_0000_0000_0000_0008;
        regs.fp.v[31] = u128::MAX - 31;
        regs.fp.fpcr = 0x40_0000;
        regs.fp.fpsr = 0x10;
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
        // The handler clobbers vector registers; sigreturn brings the interrupted ones back.
        let mut in_handler = entry;
        in_handler.fp.v = [7; 32];
        in_handler.fp.fpcr = 0;
        let (restored, m) = restore_frame(&bytes, &in_handler).unwrap();
        assert_eq!(m, mask);
        assert_eq!(restored, regs, "every register comes back, TLS untouched");
    }
}
