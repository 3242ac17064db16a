//! Why application code stopped running and control came back to the sentry.

/// The kind of memory access that faulted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    Read,
    Write,
    Execute,
}

/// Why `switch_to_user` (or a platform's context switch) returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Trap {
    /// The application executed its system-call instruction; the number and arguments are in
    /// the registers, and the instruction pointer is already past the instruction.
    Syscall,
    /// A page fault at `addr`. `present` tells a protection violation on a mapped page from an
    /// access to an unmapped one. The instruction pointer is at the faulting instruction, so
    /// resuming retries it.
    Fault {
        addr: u64,
        access: Access,
        present: bool,
    },
    /// Any other exception raised by application code (x86_64 vector and error code; on
    /// aarch64 the exception class and syndrome).
    Exception { vector: u8, code: u64 },
    /// Another thread asked the context to stop (`interrupt()`), or the host thread got a
    /// signal; the application's state is saved and it can be resumed unchanged.
    Interrupted,
}
