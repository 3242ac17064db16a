/// `struct user_regs_struct`: the general registers as `PTRACE_GETREGS` and core dumps lay
/// them out.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct UserRegs {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub rbp: u64,
    pub rbx: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rax: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    /// The system call number at entry; `rax` is overwritten by the return value, so this is
    /// what restarting a call and tracers look at. `u64::MAX` (-1) means "not in a syscall".
    pub orig_rax: u64,
    pub rip: u64,
    pub cs: u64,
    pub eflags: u64,
    pub rsp: u64,
    pub ss: u64,
    pub fs_base: u64,
    pub gs_base: u64,
    pub ds: u64,
    pub es: u64,
    pub fs: u64,
    pub gs: u64,
}

impl UserRegs {
    /// The system call number (`orig_rax`).
    pub const fn syscall_nr(&self) -> u64 {
        self.orig_rax
    }

    /// Changes the system call to run (`orig_rax`); -1 skips it.
    pub fn set_syscall_nr(&mut self, nr: u64) {
        self.orig_rax = nr;
    }

    /// The six system call arguments: `rdi, rsi, rdx, r10, r8, r9` (`r10` replaces the C
    /// convention's `rcx`, which `syscall` clobbers with the return address).
    pub const fn syscall_args(&self) -> [u64; 6] {
        [self.rdi, self.rsi, self.rdx, self.r10, self.r8, self.r9]
    }

    /// Sets the system call return value (`rax`).
    pub fn set_return(&mut self, value: u64) {
        self.rax = value;
    }

    /// The system call return value (`rax`).
    pub const fn return_value(&self) -> u64 {
        self.rax
    }

    /// The instruction pointer.
    pub const fn ip(&self) -> u64 {
        self.rip
    }

    /// The stack pointer.
    pub const fn sp(&self) -> u64 {
        self.rsp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syscall_helpers() {
        let mut regs = UserRegs {
            orig_rax: 39,
            rdi: 1,
            rsi: 2,
            rdx: 3,
            r10: 4,
            r8: 5,
            r9: 6,
            rcx: 99,
            ..Default::default()
        };
        assert_eq!(regs.syscall_nr(), 39);
        assert_eq!(regs.syscall_args(), [1, 2, 3, 4, 5, 6]);
        regs.set_return(crate::Errno::ENOSYS.as_syscall_return());
        assert_eq!(regs.rax as i64, -38);
        assert_eq!(core::mem::size_of::<UserRegs>(), 27 * 8);
    }
}
