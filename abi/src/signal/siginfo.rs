use core::fmt;

use super::{SIGCHLD, SIGSYS};

/// Size of `siginfo_t` on every Linux architecture.
pub const SI_MAX_SIZE: usize = 128;
/// Size of the union that follows the three-`int` header (and its padding).
const BODY_SIZE: usize = SI_MAX_SIZE - 16;

/// `siginfo_t`: a fixed header and a union whose meaning depends on signal and code.
///
/// The union is kept as bytes, read and written through typed accessors at the offsets the
/// 64-bit kernels use (the same on x86_64 and aarch64), in native byte order, so no `unsafe`
/// is needed and the whole value can be copied to the guest as is.
#[repr(C, align(8))]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SigInfo {
    /// Signal number.
    pub si_signo: i32,
    /// An error number; zero for almost every signal (seccomp puts the filter's data here).
    pub si_errno: i32,
    /// Why the signal was sent: `SI_*` for user-sent signals, or a signal-specific code.
    pub si_code: i32,
    /// Padding before the 8-aligned union.
    pub _pad: i32,
    /// The union, raw.
    pub fields: [u8; BODY_SIZE],
}

// Offsets inside `fields` (the union starts at byte 16 of the struct).
const PID: usize = 0;
const UID: usize = 4;
const STATUS: usize = 8;
const UTIME: usize = 16;
const STIME: usize = 24;
const VALUE: usize = 8;
const TIMER_ID: usize = 0;
const OVERRUN: usize = 4;
const ADDR: usize = 0;
const ADDR_LSB: usize = 8;
const BAND: usize = 0;
const FD: usize = 8;
const CALL_ADDR: usize = 0;
const SYSCALL: usize = 8;
const ARCH: usize = 12;

impl Default for SigInfo {
    fn default() -> Self {
        Self::new(0, 0)
    }
}

impl SigInfo {
    /// A siginfo with the given signal and code and a zeroed union.
    pub const fn new(signo: i32, code: i32) -> Self {
        Self {
            si_signo: signo,
            si_errno: 0,
            si_code: code,
            _pad: 0,
            fields: [0; BODY_SIZE],
        }
    }

    /// A signal sent by `kill` from process `pid` running as `uid` (`si_code` = `SI_USER`).
    pub fn kill(signo: i32, pid: i32, uid: u32) -> Self {
        let mut info = Self::new(signo, SI_USER);
        info.set_pid(pid);
        info.set_uid(uid);
        info
    }

    /// A fault (`SIGSEGV`, `SIGBUS`, `SIGILL`, `SIGFPE`, `SIGTRAP`) at guest address `addr`.
    pub fn fault(signo: i32, code: i32, addr: u64) -> Self {
        let mut info = Self::new(signo, code);
        info.set_addr(addr);
        info
    }

    /// `SIGCHLD` for child `pid`: `code` is a `CLD_*` value, `status` the exit code or
    /// signal, `utime`/`stime` the child's CPU time in clock ticks.
    pub fn child(code: i32, pid: i32, uid: u32, status: i32, utime: i64, stime: i64) -> Self {
        let mut info = Self::new(SIGCHLD, code);
        info.set_pid(pid);
        info.set_uid(uid);
        info.put(STATUS, status.to_ne_bytes());
        info.put(UTIME, utime.to_ne_bytes());
        info.put(STIME, stime.to_ne_bytes());
        info
    }

    /// A POSIX timer expiry (`si_code` = `SI_TIMER`).
    pub fn timer(signo: i32, timer_id: i32, overrun: i32, value: u64) -> Self {
        let mut info = Self::new(signo, SI_TIMER);
        info.put(TIMER_ID, timer_id.to_ne_bytes());
        info.put(OVERRUN, overrun.to_ne_bytes());
        info.put(VALUE, value.to_ne_bytes());
        info
    }

    /// `SIGSYS` from a seccomp filter: the call at `call_addr`, its number and `AUDIT_ARCH_*`,
    /// with the filter's return data in `si_errno`.
    pub fn seccomp(call_addr: u64, syscall: i32, arch: u32, data: i32) -> Self {
        let mut info = Self::new(SIGSYS, SYS_SECCOMP);
        info.si_errno = data;
        info.put(CALL_ADDR, call_addr.to_ne_bytes());
        info.put(SYSCALL, syscall.to_ne_bytes());
        info.put(ARCH, arch.to_ne_bytes());
        info
    }

    fn put<const N: usize>(&mut self, off: usize, bytes: [u8; N]) {
        self.fields[off..off + N].copy_from_slice(&bytes);
    }

    fn get<const N: usize>(&self, off: usize) -> [u8; N] {
        let mut out = [0; N];
        out.copy_from_slice(&self.fields[off..off + N]);
        out
    }

    /// Sending process (kill, rt, child variants).
    pub fn pid(&self) -> i32 {
        i32::from_ne_bytes(self.get(PID))
    }
    /// Sets the sending process.
    pub fn set_pid(&mut self, pid: i32) {
        self.put(PID, pid.to_ne_bytes());
    }
    /// Sender's real user id (kill, rt, child variants).
    pub fn uid(&self) -> u32 {
        u32::from_ne_bytes(self.get(UID))
    }
    /// Sets the sender's real user id.
    pub fn set_uid(&mut self, uid: u32) {
        self.put(UID, uid.to_ne_bytes());
    }
    /// Exit status or signal of a child (child variant).
    pub fn status(&self) -> i32 {
        i32::from_ne_bytes(self.get(STATUS))
    }
    /// User CPU time of a child, in clock ticks.
    pub fn utime(&self) -> i64 {
        i64::from_ne_bytes(self.get(UTIME))
    }
    /// System CPU time of a child, in clock ticks.
    pub fn stime(&self) -> i64 {
        i64::from_ne_bytes(self.get(STIME))
    }
    /// `sigval` passed with `sigqueue` or a timer (rt and timer variants).
    pub fn value(&self) -> u64 {
        u64::from_ne_bytes(self.get(VALUE))
    }
    /// Sets the `sigval` (rt and timer variants).
    pub fn set_value(&mut self, value: u64) {
        self.put(VALUE, value.to_ne_bytes());
    }
    /// Kernel timer id (timer variant).
    pub fn timer_id(&self) -> i32 {
        i32::from_ne_bytes(self.get(TIMER_ID))
    }
    /// Expiries missed since the signal was queued (timer variant).
    pub fn overrun(&self) -> i32 {
        i32::from_ne_bytes(self.get(OVERRUN))
    }
    /// Faulting guest address (fault variant).
    pub fn addr(&self) -> u64 {
        u64::from_ne_bytes(self.get(ADDR))
    }
    /// Sets the faulting guest address.
    pub fn set_addr(&mut self, addr: u64) {
        self.put(ADDR, addr.to_ne_bytes());
    }
    /// Least significant bit of the reported address, for `BUS_MCEERR_*`.
    pub fn addr_lsb(&self) -> i16 {
        i16::from_ne_bytes(self.get(ADDR_LSB))
    }
    /// Poll band event (`SIGIO` variant).
    pub fn band(&self) -> i64 {
        i64::from_ne_bytes(self.get(BAND))
    }
    /// File descriptor (`SIGIO` variant).
    pub fn fd(&self) -> i32 {
        i32::from_ne_bytes(self.get(FD))
    }
    /// Sets band and descriptor (`SIGIO` variant).
    pub fn set_poll(&mut self, band: i64, fd: i32) {
        self.put(BAND, band.to_ne_bytes());
        self.put(FD, fd.to_ne_bytes());
    }
    /// Address of the system call instruction (seccomp variant).
    pub fn call_addr(&self) -> u64 {
        u64::from_ne_bytes(self.get(CALL_ADDR))
    }
    /// System call number (seccomp variant).
    pub fn syscall(&self) -> i32 {
        i32::from_ne_bytes(self.get(SYSCALL))
    }
    /// `AUDIT_ARCH_*` of the call (seccomp variant).
    pub fn arch(&self) -> u32 {
        u32::from_ne_bytes(self.get(ARCH))
    }

    /// The 128 bytes as the guest sees them.
    pub fn to_bytes(&self) -> [u8; SI_MAX_SIZE] {
        let mut out = [0; SI_MAX_SIZE];
        out[0..4].copy_from_slice(&self.si_signo.to_ne_bytes());
        out[4..8].copy_from_slice(&self.si_errno.to_ne_bytes());
        out[8..12].copy_from_slice(&self.si_code.to_ne_bytes());
        out[12..16].copy_from_slice(&self._pad.to_ne_bytes());
        out[16..].copy_from_slice(&self.fields);
        out
    }

    /// Reads a siginfo from the guest's 128 bytes.
    pub fn from_bytes(bytes: &[u8; SI_MAX_SIZE]) -> Self {
        let word = |i: usize| {
            let mut w = [0; 4];
            w.copy_from_slice(&bytes[i..i + 4]);
            i32::from_ne_bytes(w)
        };
        let mut fields = [0; BODY_SIZE];
        fields.copy_from_slice(&bytes[16..]);
        Self {
            si_signo: word(0),
            si_errno: word(4),
            si_code: word(8),
            _pad: word(12),
            fields,
        }
    }
}

impl fmt::Debug for SigInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut words = [0u64; BODY_SIZE / 8];
        for (i, w) in words.iter_mut().enumerate() {
            *w = u64::from_ne_bytes(self.get(i * 8));
        }
        let used = words.iter().rposition(|&w| w != 0).map_or(0, |i| i + 1);
        f.debug_struct("SigInfo")
            .field("si_signo", &self.si_signo)
            .field("si_errno", &self.si_errno)
            .field("si_code", &self.si_code)
            .field("fields", &&words[..used])
            .finish()
    }
}

// `si_code` values for signals sent by user space or the kernel generically.
/// Sent by `kill` or `raise`.
pub const SI_USER: i32 = 0;
/// Sent by the kernel.
pub const SI_KERNEL: i32 = 0x80;
/// Sent by `sigqueue`.
pub const SI_QUEUE: i32 = -1;
/// A POSIX timer expired.
pub const SI_TIMER: i32 = -2;
/// A message arrived on a POSIX message queue.
pub const SI_MESGQ: i32 = -3;
/// Asynchronous I/O completed.
pub const SI_ASYNCIO: i32 = -4;
/// Queued `SIGIO`.
pub const SI_SIGIO: i32 = -5;
/// Sent by `tkill` or `tgkill`.
pub const SI_TKILL: i32 = -6;

/// `SIGILL`: illegal opcode.
pub const ILL_ILLOPC: i32 = 1;
/// `SIGILL`: illegal operand.
pub const ILL_ILLOPN: i32 = 2;
/// `SIGILL`: illegal addressing mode.
pub const ILL_ILLADR: i32 = 3;
/// `SIGILL`: illegal trap.
pub const ILL_ILLTRP: i32 = 4;
/// `SIGILL`: privileged opcode.
pub const ILL_PRVOPC: i32 = 5;
/// `SIGILL`: privileged register.
pub const ILL_PRVREG: i32 = 6;
/// `SIGILL`: coprocessor error.
pub const ILL_COPROC: i32 = 7;
/// `SIGILL`: internal stack error.
pub const ILL_BADSTK: i32 = 8;

/// `SIGFPE`: integer divide by zero.
pub const FPE_INTDIV: i32 = 1;
/// `SIGFPE`: integer overflow.
pub const FPE_INTOVF: i32 = 2;
/// `SIGFPE`: floating-point divide by zero.
pub const FPE_FLTDIV: i32 = 3;
/// `SIGFPE`: floating-point overflow.
pub const FPE_FLTOVF: i32 = 4;
/// `SIGFPE`: floating-point underflow.
pub const FPE_FLTUND: i32 = 5;
/// `SIGFPE`: floating-point inexact result.
pub const FPE_FLTRES: i32 = 6;
/// `SIGFPE`: invalid floating-point operation.
pub const FPE_FLTINV: i32 = 7;
/// `SIGFPE`: subscript out of range.
pub const FPE_FLTSUB: i32 = 8;

/// `SIGSEGV`: no mapping at the address.
pub const SEGV_MAPERR: i32 = 1;
/// `SIGSEGV`: the mapping does not allow the access.
pub const SEGV_ACCERR: i32 = 2;
/// `SIGSEGV`: bounds check failed (x86 MPX, no longer supported).
pub const SEGV_BNDERR: i32 = 3;
/// `SIGSEGV`: protection key check failed.
pub const SEGV_PKUERR: i32 = 4;
/// `SIGSEGV`: asynchronous Memory Tagging fault (aarch64).
pub const SEGV_MTEAERR: i32 = 8;
/// `SIGSEGV`: synchronous Memory Tagging fault (aarch64).
pub const SEGV_MTESERR: i32 = 9;

/// `SIGBUS`: misaligned address.
pub const BUS_ADRALN: i32 = 1;
/// `SIGBUS`: address beyond the backing object (e.g. past the end of a mapped file).
pub const BUS_ADRERR: i32 = 2;
/// `SIGBUS`: hardware error.
pub const BUS_OBJERR: i32 = 3;
/// `SIGBUS`: memory error consumed by the access.
pub const BUS_MCEERR_AR: i32 = 4;
/// `SIGBUS`: memory error detected but not consumed.
pub const BUS_MCEERR_AO: i32 = 5;

/// `SIGTRAP`: breakpoint.
pub const TRAP_BRKPT: i32 = 1;
/// `SIGTRAP`: single step.
pub const TRAP_TRACE: i32 = 2;
/// `SIGTRAP`: branch trap.
pub const TRAP_BRANCH: i32 = 3;
/// `SIGTRAP`: hardware breakpoint or watchpoint.
pub const TRAP_HWBKPT: i32 = 4;

/// `SIGCHLD`: the child exited.
pub const CLD_EXITED: i32 = 1;
/// `SIGCHLD`: the child was killed.
pub const CLD_KILLED: i32 = 2;
/// `SIGCHLD`: the child was killed and dumped core.
pub const CLD_DUMPED: i32 = 3;
/// `SIGCHLD`: a traced child stopped.
pub const CLD_TRAPPED: i32 = 4;
/// `SIGCHLD`: the child stopped.
pub const CLD_STOPPED: i32 = 5;
/// `SIGCHLD`: the stopped child continued.
pub const CLD_CONTINUED: i32 = 6;

/// `SIGIO`: input available.
pub const POLL_IN: i32 = 1;
/// `SIGIO`: output possible.
pub const POLL_OUT: i32 = 2;
/// `SIGIO`: message available.
pub const POLL_MSG: i32 = 3;
/// `SIGIO`: I/O error.
pub const POLL_ERR: i32 = 4;
/// `SIGIO`: high-priority input available.
pub const POLL_PRI: i32 = 5;
/// `SIGIO`: device disconnected.
pub const POLL_HUP: i32 = 6;

/// `SIGSYS`: a seccomp filter trapped the call.
pub const SYS_SECCOMP: i32 = 1;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::SIGSEGV;

    #[test]
    fn bytes_round_trip() {
        let info = SigInfo::child(CLD_EXITED, 42, 1000, 3, 5, 6);
        let bytes = info.to_bytes();
        assert_eq!(&bytes[0..4], &SIGCHLD.to_ne_bytes());
        assert_eq!(&bytes[16..20], &42i32.to_ne_bytes());
        assert_eq!(SigInfo::from_bytes(&bytes), info);
        let fault = SigInfo::fault(SIGSEGV, SEGV_MAPERR, 0xdead_beef);
        assert_eq!(fault.addr(), 0xdead_beef);
        assert_eq!(fault.si_code, SEGV_MAPERR);
    }
}
