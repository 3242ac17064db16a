/// `stack_t`, the alternate signal stack of `sigaltstack`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct StackT {
    /// Guest address of the lowest byte of the stack.
    pub ss_sp: u64,
    /// `SS_*` flags.
    pub ss_flags: i32,
    /// Padding the C compiler inserts; kept explicit so the struct has no uninitialized bytes.
    pub _pad: i32,
    /// Size in bytes.
    pub ss_size: u64,
}

/// Reported by `sigaltstack`: the thread is running on the alternate stack.
pub const SS_ONSTACK: i32 = 1;
/// The alternate stack is disabled.
pub const SS_DISABLE: i32 = 2;
/// Disable the alternate stack while a handler runs on it.
pub const SS_AUTODISARM: i32 = 1 << 31;
