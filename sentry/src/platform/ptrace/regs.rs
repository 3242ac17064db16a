//! Application registers on their way into a tracee, and the FPU state that follows a
//! context from one tracee to another.

use abi::x86_64::UserRegs;

use super::error::{Error, Result};
use super::tracee::Tracee;

/// The 64-bit user code and data selectors of Linux x86_64.
pub const USER_CS: u64 = 0x33;
pub const USER_SS: u64 = 0x2b;

/// The largest base `PTRACE_SETREGS` accepts for FS and GS (`TASK_SIZE_MAX`).
const TASK_SIZE_MAX: u64 = 0x7fff_ffff_f000;

/// `regs` as the tracee gets them: 64-bit code and stack selectors (applications run 64-bit
/// code only), data selectors that are null or user-privileged, and `orig_rax` = -1 so the
/// kernel never takes the tracee for one interrupted inside a system call it should restart.
/// `fs_base` and `gs_base` go in as they are (`PTRACE_SETREGS` loads them).
pub fn for_tracee(regs: &UserRegs) -> Result<UserRegs> {
    if regs.fs_base >= TASK_SIZE_MAX || regs.gs_base >= TASK_SIZE_MAX {
        return Err(Error::BadRegisters(
            "fs_base or gs_base lies outside the user address range",
        ));
    }
    let mut out = *regs;
    out.cs = USER_CS;
    out.ss = USER_SS;
    out.orig_rax = u64::MAX;
    for selector in [&mut out.ds, &mut out.es, &mut out.fs, &mut out.gs] {
        if *selector > 0xffff || (*selector != 0 && *selector & 3 != 3) {
            *selector = 0;
        }
    }
    Ok(out)
}

/// Give `to` the FPU/vector state of `from` (a context entering another address space). A
/// `from` that is gone has taken its state with it; `to` keeps its initial state then.
pub fn move_fpu(from: &Tracee, to: &Tracee) -> Result<()> {
    match from.get_fpu() {
        Ok(image) => to.set_fpu(&image),
        Err(Error::Released | Error::StubDied { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_and_syscall_state_are_sanitised() {
        let regs = UserRegs {
            cs: 0,
            ss: 0,
            ds: 0x10, // kernel privilege
            fs: 0x2b,
            gs: 0x1_0003,
            orig_rax: 39,
            fs_base: 0x7000_0000,
            ..UserRegs::default()
        };
        let out = for_tracee(&regs).unwrap();
        assert_eq!((out.cs, out.ss), (USER_CS, USER_SS));
        assert_eq!((out.ds, out.fs, out.gs), (0, 0x2b, 0));
        assert_eq!(out.orig_rax, u64::MAX);
        assert_eq!(out.fs_base, 0x7000_0000);
    }

    #[test]
    fn kernel_half_bases_are_refused() {
        let regs = UserRegs {
            gs_base: 0xffff_8000_0000_0000,
            ..UserRegs::default()
        };
        assert!(matches!(for_tracee(&regs), Err(Error::BadRegisters(_))));
    }
}
