//! RFLAGS bits the guest kernel sets or refuses to let applications set.

pub const CF: u64 = 1 << 0;
/// Always 1.
pub const RESERVED1: u64 = 1 << 1;
pub const TF: u64 = 1 << 8;
pub const IF: u64 = 1 << 9;
pub const DF: u64 = 1 << 10;
pub const IOPL: u64 = 3 << 12;
pub const NT: u64 = 1 << 14;
pub const RF: u64 = 1 << 16;
pub const VM: u64 = 1 << 17;
pub const AC: u64 = 1 << 18;
pub const VIF: u64 = 1 << 19;
pub const VIP: u64 = 1 << 20;
pub const ID: u64 = 1 << 21;

/// Bits an application may control (the same set Linux lets `sigreturn` restore, plus IF,
/// which stays set in user mode).
pub const USER_SETTABLE: u64 =
    CF | (1 << 2) | (1 << 4) | (1 << 6) | (1 << 7) | TF | DF | (1 << 11) | RF | AC | ID;

/// Flags cleared on `syscall` entry (the SFMASK MSR): interrupts, tracing, direction,
/// alignment checks, nested task and I/O privilege.
pub const SYSCALL_MASK: u64 = TF | IF | DF | IOPL | NT | AC;

/// The RFLAGS value to enter user mode with, given what the application asked for: never
/// I/O privilege, virtual-8086 or nested-task bits, always IF.
pub const fn sanitize_user(flags: u64) -> u64 {
    (flags & USER_SETTABLE) | RESERVED1 | IF
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_strips_privilege() {
        let f = sanitize_user(IOPL | VM | NT | CF | DF);
        assert_eq!(f & (IOPL | VM | NT), 0);
        assert_eq!(f & (CF | DF | IF | RESERVED1), CF | DF | IF | RESERVED1);
    }
}
