//! The x86_64 signal frame (`struct rt_sigframe`) on the application stack: built when a
//! handler is entered, read back by `rt_sigreturn`.

use abi::x86_64::UserRegs;
use abi::{Errno, SigInfo, SigSet, StackT};

use super::{get, put};

/// pretcode, ucontext (flags, link, stack, sigcontext, mask), siginfo.
const FRAME_SIZE: u64 = 8 + 304 + 128;
const UC: usize = 8;
const UC_STACK: usize = UC + 16;
const MCONTEXT: usize = UC + 40;
const SIGMASK: usize = UC + 296;
const INFO: usize = 8 + 304;
/// The System V red zone below RSP that a handler must not overwrite.
const RED_ZONE: u64 = 128;
/// UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS, as Linux sets for 64-bit frames.
const UC_FLAGS: u64 = 0x2 | 0x4;
/// RFLAGS bits sigreturn may restore (Linux's FIX_EFLAGS).
const FIX_EFLAGS: u64 =
    0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x100 | 0x400 | 0x800 | 0x4_0000 | 0x1_0000;

/// The general registers in `struct sigcontext` order.
fn gprs(r: &UserRegs) -> [u64; 18] {
    [
        r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, r.rdi, r.rsi, r.rbp, r.rbx, r.rdx,
        r.rax, r.rcx, r.rsp, r.rip, r.eflags,
    ]
}

/// The frame for a handler entered with `regs` (the interrupted state), and the registers
/// that enter it. `sp` is where the frame goes below (the alternate stack's top or RSP).
#[allow(clippy::too_many_arguments)]
pub fn build_frame(
    regs: &UserRegs,
    sp: u64,
    on_altstack: bool,
    info: &SigInfo,
    handler: u64,
    restorer: u64,
    old_mask: SigSet,
    altstack: &StackT,
) -> (u64, Vec<u8>, UserRegs) {
    let sp = if on_altstack {
        sp
    } else {
        sp.wrapping_sub(RED_ZONE)
    };
    let frame = (sp.wrapping_sub(FRAME_SIZE) & !15).wrapping_sub(8);
    let mut buf = vec![0u8; FRAME_SIZE as usize];
    put(&mut buf, 0, restorer);
    put(&mut buf, UC, UC_FLAGS);
    put(&mut buf, UC_STACK, altstack.ss_sp);
    buf[UC_STACK + 8..UC_STACK + 12].copy_from_slice(&altstack.ss_flags.to_le_bytes());
    put(&mut buf, UC_STACK + 16, altstack.ss_size);
    for (i, v) in gprs(regs).iter().enumerate() {
        put(&mut buf, MCONTEXT + 8 * i, *v);
    }
    // cs, gs, fs, ss as 16-bit fields.
    let segs = MCONTEXT + 144;
    buf[segs..segs + 2].copy_from_slice(&0x33u16.to_le_bytes());
    buf[segs + 6..segs + 8].copy_from_slice(&0x2bu16.to_le_bytes());
    put(&mut buf, MCONTEXT + 168, old_mask.bits()); // oldmask
    let cr2 = match info.si_signo {
        abi::signal::SIGSEGV | abi::signal::SIGBUS => info.addr(),
        _ => 0,
    };
    put(&mut buf, MCONTEXT + 176, cr2);
    put(&mut buf, SIGMASK, old_mask.bits());
    buf[INFO..INFO + 128].copy_from_slice(&info.to_bytes());

    let mut entry = *regs;
    entry.rsp = frame;
    entry.rip = handler;
    entry.rdi = info.si_signo as u64;
    entry.rsi = frame + INFO as u64;
    entry.rdx = frame + UC as u64;
    entry.rax = 0;
    // The handler starts with the direction and trap flags clear, as after a call.
    entry.eflags &= !(0x400 | 0x100);
    (frame, buf, entry)
}

/// Read the frame `rt_sigreturn` finds (RSP points just past `pretcode`), and return the
/// registers and mask it restores. `frame` holds `FRAME_SIZE` bytes from RSP - 8.
pub fn restore_frame(frame: &[u8], current: &UserRegs) -> Result<(UserRegs, SigSet), Errno> {
    if frame.len() < FRAME_SIZE as usize {
        return Err(Errno::EFAULT);
    }
    let g: Vec<u64> = (0..18).map(|i| get(frame, MCONTEXT + 8 * i)).collect();
    let mut r = *current;
    [
        r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, r.rdi, r.rsi, r.rbp, r.rbx, r.rdx,
        r.rax, r.rcx, r.rsp, r.rip,
    ] = [
        g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10], g[11], g[12], g[13],
        g[14], g[15], g[16],
    ];
    r.eflags = (current.eflags & !FIX_EFLAGS) | (g[17] & FIX_EFLAGS);
    Ok((r, SigSet::from_bits(get(frame, SIGMASK))))
}

/// How many bytes the frame occupies below its address, and how far RSP is above it at
/// `rt_sigreturn`.
pub const FRAME_BYTES: u64 = FRAME_SIZE;
/// Where the frame starts relative to RSP at `rt_sigreturn` (the handler's `ret` popped
/// `pretcode`).
pub const FRAME_AT_SIGRETURN: u64 = 8;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_round_trip_and_alignment() {
        let regs = UserRegs {
            rax: 1,
            rbx: 2,
            rcx: 3,
            rdx: 4,
            rsp: 0x7fff_0000_1234,
            rip: 0x40_1000,
            r15: 15,
            eflags: 0x246,
            ..UserRegs::default()
        };
        let info = SigInfo::kill(10, 1, 0);
        let alt = StackT::default();
        let mask = SigSet::EMPTY.with(12);
        let (frame, bytes, entry) = build_frame(
            &regs, regs.rsp, false, &info, 0x40_2000, 0x40_3000, mask, &alt,
        );
        assert_eq!((entry.rsp + 8) % 16, 0, "entered as after a call");
        assert!(
            frame + FRAME_SIZE <= regs.rsp - RED_ZONE,
            "the red zone is preserved"
        );
        assert_eq!((entry.rip, entry.rdi), (0x40_2000, 10));
        assert_eq!(get(&bytes, 0), 0x40_3000, "returns into the restorer");
        let (restored, m) = restore_frame(&bytes, &entry).unwrap();
        assert_eq!(m, mask);
        assert_eq!(
            (
                restored.rax,
                restored.rbx,
                restored.r15,
                restored.rsp,
                restored.rip
            ),
            (1, 2, 15, regs.rsp, regs.rip)
        );
        assert_eq!(restored.eflags & FIX_EFLAGS, 0x246 & FIX_EFLAGS);
    }
}
