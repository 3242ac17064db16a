/// `struct user_pt_regs`: the general registers as `PTRACE_GETREGSET(NT_PRSTATUS)` returns
/// them.
///
/// Unlike x86_64 there is no `orig_x0`: `x0` is both the first argument and the return value,
/// so whoever needs to restart a call must save `x0` at entry (the kernel keeps it outside
/// this structure, readable through `NT_ARM_SYSTEM_CALL` only for the number).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct UserRegs {
    /// `x0` to `x30` (`x29` is the frame pointer, `x30` the link register).
    pub regs: [u64; 31],
    pub sp: u64,
    pub pc: u64,
    /// The saved `PSTATE` (condition flags, exception level, interrupt masks).
    pub pstate: u64,
}

impl UserRegs {
    /// The system call number (`x8`).
    pub const fn syscall_nr(&self) -> u64 {
        self.regs[8]
    }

    /// Changes the system call to run (`x8`); -1 skips it.
    pub fn set_syscall_nr(&mut self, nr: u64) {
        self.regs[8] = nr;
    }

    /// The six system call arguments, `x0` to `x5`.
    pub const fn syscall_args(&self) -> [u64; 6] {
        [
            self.regs[0],
            self.regs[1],
            self.regs[2],
            self.regs[3],
            self.regs[4],
            self.regs[5],
        ]
    }

    /// Sets the system call return value (`x0`).
    pub fn set_return(&mut self, value: u64) {
        self.regs[0] = value;
    }

    /// The system call return value (`x0`).
    pub const fn return_value(&self) -> u64 {
        self.regs[0]
    }

    /// The instruction pointer.
    pub const fn ip(&self) -> u64 {
        self.pc
    }

    /// The stack pointer.
    pub const fn sp(&self) -> u64 {
        self.sp
    }
}

/// The FP/SIMD registers (`struct user_fpsimd_state`, with FPSR and FPCR widened).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FpRegs {
    pub v: [u128; 32],
    pub fpsr: u64,
    pub fpcr: u64,
}

/// A thread's user-mode state as the sentry keeps it: `user_pt_regs`, the thread pointer
/// (TPIDR_EL0, a system register outside that structure) and the FP/SIMD registers (which a
/// forked child inherits, d8-d15 being callee-saved, and signal frames carry). It reads as
/// its [`UserRegs`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TaskRegs {
    pub user: UserRegs,
    pub tpidr_el0: u64,
    pub fp: FpRegs,
}

impl core::ops::Deref for TaskRegs {
    type Target = UserRegs;
    fn deref(&self) -> &UserRegs {
        &self.user
    }
}

impl core::ops::DerefMut for TaskRegs {
    fn deref_mut(&mut self) -> &mut UserRegs {
        &mut self.user
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn layout_and_helpers() {
        assert_eq!(size_of::<UserRegs>(), 34 * 8);
        assert_eq!(offset_of!(UserRegs, sp), 31 * 8);
        assert_eq!(offset_of!(UserRegs, pc), 32 * 8);
        assert_eq!(offset_of!(UserRegs, pstate), 33 * 8);
        let mut regs = UserRegs::default();
        regs.regs[..6].copy_from_slice(&[1, 2, 3, 4, 5, 6]);
        regs.regs[8] = crate::syscalls::aarch64::nr::GETPID.into();
        assert_eq!(regs.syscall_nr(), 172);
        assert_eq!(regs.syscall_args(), [1, 2, 3, 4, 5, 6]);
        regs.set_return(7);
        assert_eq!(regs.regs[0], 7);
    }
}
