//! From a tracee's signal-delivery-stop to a [`Trap`].
//!
//! Only signals the kernel raised for an instruction count (`si_code > 0`); the vector is
//! inferred from the signal and its code, since ptrace exposes neither the vector nor the
//! error code:
//!
//! | signal, `si_code` | trap |
//! | --- | --- |
//! | `SIGSEGV` `SEGV_MAPERR` | `Fault { present: false }` |
//! | `SIGSEGV` `SEGV_ACCERR`, `SEGV_PKUERR` | `Fault { present: true }` |
//! | `SIGSEGV` `SI_KERNEL` (#GP: privileged instruction, non-canonical address, `int n`) | vector 13, code 0 |
//! | `SIGSEGV` `SEGV_CPERR` (shadow stack) | vector 21 |
//! | `SIGBUS` `BUS_ADRERR`, `BUS_MCEERR_AR` (page beyond the file, poison) | `Fault { present: true }` |
//! | `SIGBUS` `BUS_ADRALN` (alignment check) | vector 17 |
//! | `SIGBUS` otherwise (#SS, #NP) | vector 12 |
//! | `SIGILL` | vector 6 |
//! | `SIGFPE` `FPE_INTDIV`, `FPE_INTOVF` | vector 0 |
//! | `SIGFPE` otherwise (x87 or SSE math; #MF and #XM look alike) | vector 19 |
//! | `SIGTRAP` `SI_KERNEL` (`int3`) | vector 3 |
//! | `SIGTRAP` otherwise (single step, hardware breakpoint) | vector 1 |
//!
//! The access kind of a fault: an instruction fetch when the address is `rip` (or the
//! page-aligned address the instruction's own bytes run into); otherwise what the faulting
//! instruction does ([`super::decode`]); for an instruction it cannot decode, `Write` if the
//! page is present (a present page is readable, so the access was not a read unless the page
//! was mapped without permissions) and `Read` if not.

use abi::x86_64::UserRegs;

use super::decode::{self, Decoded, Effect};
use super::sys::SigInfo;
use crate::platform::{Access, Trap};

const SI_KERNEL: i32 = 0x80;
const SEGV_MAPERR: i32 = 1;
const SEGV_CPERR: i32 = 10;
const BUS_ADRALN: i32 = 1;
const BUS_ADRERR: i32 = 2;
const BUS_MCEERR_AR: i32 = 4;
const FPE_INTDIV: i32 = 1;
const FPE_INTOVF: i32 = 2;

/// The trap a signal-delivery-stop stands for, or `None` for a signal that is not a trap of
/// the application's own instruction (the caller drops it). `peek` reads a word of the
/// tracee's memory.
pub fn from_signal(
    info: &SigInfo,
    regs: &UserRegs,
    peek: impl Fn(u64) -> Option<u64>,
) -> Option<Trap> {
    if info.code <= 0 {
        return None; // sent by a process, not raised by an instruction
    }
    let exception = |vector| Some(Trap::Exception { vector, code: 0 });
    match info.signo {
        libc::SIGSEGV => match info.code {
            SI_KERNEL => exception(13),
            SEGV_CPERR => exception(21),
            code => Some(fault(info.addr, code != SEGV_MAPERR, regs, peek)),
        },
        libc::SIGBUS => match info.code {
            BUS_ADRALN => exception(17),
            BUS_ADRERR | BUS_MCEERR_AR => Some(fault(info.addr, true, regs, peek)),
            _ => exception(12),
        },
        libc::SIGILL => exception(6),
        libc::SIGFPE => match info.code {
            FPE_INTDIV | FPE_INTOVF => exception(0),
            _ => exception(19),
        },
        libc::SIGTRAP => exception(if info.code == SI_KERNEL { 3 } else { 1 }),
        _ => None,
    }
}

fn fault(addr: u64, present: bool, regs: &UserRegs, peek: impl Fn(u64) -> Option<u64>) -> Trap {
    Trap::Fault {
        addr,
        access: access(addr, present, regs, peek),
        present,
    }
}

/// The kind of access that faulted at `addr` (see the module docs).
pub fn access(
    addr: u64,
    present: bool,
    regs: &UserRegs,
    peek: impl Fn(u64) -> Option<u64>,
) -> Access {
    let rip = regs.rip;
    if addr == rip {
        return Access::Execute;
    }
    let code = read_code(rip, peek);
    let crossing = addr.is_multiple_of(4096) && addr > rip;
    match decode::decode(&code) {
        Decoded::Insn(insn) => {
            if crossing && addr - rip < insn.len as u64 {
                return Access::Execute;
            }
            if let Some(access) = effect_access(insn.effect, regs, addr) {
                return access;
            }
        }
        Decoded::Incomplete if crossing && addr - rip == code.len() as u64 => {
            return Access::Execute;
        }
        Decoded::Incomplete | Decoded::Unknown => {}
    }
    if present { Access::Write } else { Access::Read }
}

/// Whether `addr` lies in the 8 bytes from `start`.
fn in_slot(addr: u64, start: u64) -> bool {
    addr.wrapping_sub(start) < 8
}

fn effect_access(effect: Effect, regs: &UserRegs, addr: u64) -> Option<Access> {
    let write = match effect {
        Effect::Load => false,
        Effect::Store => true,
        Effect::PushOperand => in_slot(addr, regs.rsp.wrapping_sub(8)),
        Effect::PopOperand => !in_slot(addr, regs.rsp),
        Effect::Movs => in_slot(addr, regs.rdi),
        Effect::None => return None,
    };
    Some(if write { Access::Write } else { Access::Read })
}

/// Up to 16 bytes of code from `rip`, as far as they are readable.
fn read_code(rip: u64, peek: impl Fn(u64) -> Option<u64>) -> Vec<u8> {
    let mut code = Vec::with_capacity(24);
    let mut word = rip & !7;
    let mut skip = (rip & 7) as usize;
    while code.len() < 16 {
        let Some(value) = peek(word) else { break };
        code.extend(value.to_le_bytes().iter().skip(skip));
        skip = 0;
        word = word.wrapping_add(8);
    }
    code.truncate(16);
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Memory holding `code` at `at`, unmapped elsewhere.
    fn memory(at: u64, code: &[u8]) -> impl Fn(u64) -> Option<u64> {
        let code = code.to_vec();
        move |addr| {
            let mut word = [0u8; 8];
            let mut any = false;
            for (i, b) in word.iter_mut().enumerate() {
                let a = addr + i as u64;
                if a >= at && a < at + code.len() as u64 {
                    *b = code[(a - at) as usize];
                    any = true;
                }
            }
            any.then_some(u64::from_le_bytes(word))
        }
    }

    fn segv(code: i32, addr: u64) -> SigInfo {
        SigInfo {
            signo: libc::SIGSEGV,
            code,
            addr,
            pid: 0,
        }
    }

    #[test]
    fn faults_get_their_access_kind() {
        let rip = 0x40_0000;
        let regs = UserRegs {
            rip,
            ..UserRegs::default()
        };
        let store = memory(rip, &[0x48, 0x89, 0x06, 0, 0, 0, 0, 0]);
        let trap = from_signal(&segv(SEGV_MAPERR, 0x1234), &regs, store);
        assert_eq!(
            trap,
            Some(Trap::Fault {
                addr: 0x1234,
                access: Access::Write,
                present: false
            })
        );
        let load = memory(rip, &[0x48, 0x8b, 0x07, 0, 0, 0, 0, 0]);
        let trap = from_signal(&segv(2, 0x1234), &regs, load);
        assert_eq!(
            trap,
            Some(Trap::Fault {
                addr: 0x1234,
                access: Access::Read,
                present: true
            })
        );
        let fetch = from_signal(&segv(SEGV_MAPERR, rip), &regs, |_| None);
        assert!(matches!(
            fetch,
            Some(Trap::Fault {
                access: Access::Execute,
                ..
            })
        ));
    }

    #[test]
    fn an_instruction_running_into_an_unmapped_page_is_a_fetch() {
        // A 5-byte call whose last two bytes are on the next (unmapped) page.
        let rip = 0x40_0ffd;
        let regs = UserRegs {
            rip,
            ..UserRegs::default()
        };
        let fetch = access(0x40_1000, false, &regs, memory(rip, &[0xe8, 0, 0]));
        assert_eq!(fetch, Access::Execute);
        // A load at the end of a page reading the next page is a read.
        let rip = 0x40_0ffd;
        let regs = UserRegs {
            rip,
            rdi: 0x40_1000,
            ..UserRegs::default()
        };
        let load = access(0x40_1000, false, &regs, memory(rip, &[0x48, 0x8b, 0x07]));
        assert_eq!(load, Access::Read);
    }

    #[test]
    fn exceptions_and_foreign_signals() {
        let regs = UserRegs::default();
        let info = |signo, code| SigInfo {
            signo,
            code,
            addr: 0,
            pid: 0,
        };
        let ex = |vector| Some(Trap::Exception { vector, code: 0 });
        assert_eq!(from_signal(&info(libc::SIGILL, 2), &regs, |_| None), ex(6));
        assert_eq!(from_signal(&info(libc::SIGFPE, 1), &regs, |_| None), ex(0));
        assert_eq!(
            from_signal(&info(libc::SIGTRAP, 0x80), &regs, |_| None),
            ex(3)
        );
        assert_eq!(
            from_signal(&info(libc::SIGSEGV, 0x80), &regs, |_| None),
            ex(13)
        );
        // kill(2) from somewhere: not a trap.
        assert_eq!(from_signal(&info(libc::SIGSEGV, 0), &regs, |_| None), None);
        assert_eq!(
            from_signal(&info(libc::SIGURG, 0x80), &regs, |_| None),
            None
        );
    }
}
