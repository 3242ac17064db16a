//! The few register operations the sentry's generic code needs, per architecture.

use crate::platform::Regs;

/// Move the instruction pointer back over the syscall instruction, to run it again.
#[cfg(target_arch = "x86_64")]
pub fn rewind_syscall(regs: &mut Regs) {
    regs.rip = regs.rip.wrapping_sub(2);
}

#[cfg(target_arch = "aarch64")]
pub fn rewind_syscall(regs: &mut Regs) {
    regs.pc = regs.pc.wrapping_sub(4);
}

/// Put back the syscall number and first argument a restarted syscall needs (on aarch64
/// x0 was overwritten by the return value).
#[cfg(target_arch = "x86_64")]
pub fn restore_syscall(regs: &mut Regs, nr: u64, _arg0: u64) {
    regs.rax = nr;
}

#[cfg(target_arch = "aarch64")]
pub fn restore_syscall(regs: &mut Regs, nr: u64, arg0: u64) {
    regs.regs[8] = nr;
    regs.regs[0] = arg0;
}

#[cfg(target_arch = "x86_64")]
pub fn set_sp(regs: &mut Regs, sp: u64) {
    regs.rsp = sp;
}

#[cfg(target_arch = "aarch64")]
pub fn set_sp(regs: &mut Regs, sp: u64) {
    regs.sp = sp;
}

/// The thread pointer (FS base on x86_64, TPIDR_EL0 on aarch64).
#[cfg(target_arch = "x86_64")]
pub fn set_tls(regs: &mut Regs, tls: u64) {
    regs.fs_base = tls;
}

#[cfg(target_arch = "aarch64")]
pub fn set_tls(regs: &mut Regs, tls: u64) {
    regs.tpidr_el0 = tls;
}
