//! Errors of the ptrace platform.

use std::io;

/// What went wrong setting up or running the ptrace platform.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "ptrace is not permitted here ({op}: {source}); the ptrace platform traces its own \
         child processes, which needs /proc/sys/kernel/yama/ptrace_scope at 0 or 1 (2 needs \
         CAP_SYS_PTRACE, 3 forbids ptrace), a seccomp profile that allows ptrace (container \
         runtimes often block it) and, in some containers, CAP_SYS_PTRACE"
    )]
    NotPermitted {
        op: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("host call {op} failed: {source}")]
    Host {
        op: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("the stub process could not be set up: {step} failed: {source}")]
    StubSetup {
        step: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("stub process {pid} {what}")]
    StubDied { pid: i32, what: String },
    #[error("stub process {pid} stopped unexpectedly: {what}")]
    UnexpectedStop { pid: i32, what: String },
    #[error("{call} in the stub process failed: {source}{hint}")]
    StubSyscall {
        call: &'static str,
        #[source]
        source: io::Error,
        hint: &'static str,
    },
    #[error("invalid range {addr:#x}+{len:#x}: {why}")]
    InvalidRange {
        addr: u64,
        len: u64,
        why: &'static str,
    },
    #[error("the address space was released")]
    Released,
    #[error(
        "this context is bound to host thread {bound} but switch was called on thread \
         {current}; a tracee answers only the thread that traces it"
    )]
    WrongThread { bound: i32, current: i32 },
    #[error("the application's registers cannot be loaded: {0}")]
    BadRegisters(&'static str),
    #[error("the ptrace platform's stub thread has stopped")]
    StubThreadGone,
    #[error("the ptrace platform supports only x86_64 (use the kvm platform)")]
    UnsupportedArch,
}

impl Error {
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub(crate) fn host(op: &'static str) -> impl FnOnce(io::Error) -> Error {
        move |source| Error::Host { op, source }
    }
}

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub type Result<T, E = Error> = std::result::Result<T, E>;
