//! Signals: numbers, sets, actions, `siginfo` and alternate stacks.
//!
//! x86_64 and aarch64 use the same signal numbers and the same layouts for everything here;
//! only the stack size minimums differ (see `MINSIGSTKSZ` in the architecture modules).

mod sigaction;
mod siginfo;
mod sigset;
mod stack;

pub use sigaction::{SIG_DFL, SIG_IGN, SaFlags, SigAction};
pub use siginfo::*;
pub use sigset::SigSet;
pub use stack::{SS_AUTODISARM, SS_DISABLE, SS_ONSTACK, StackT};

pub const SIGHUP: i32 = 1;
pub const SIGINT: i32 = 2;
pub const SIGQUIT: i32 = 3;
pub const SIGILL: i32 = 4;
pub const SIGTRAP: i32 = 5;
pub const SIGABRT: i32 = 6;
pub const SIGIOT: i32 = 6;
pub const SIGBUS: i32 = 7;
pub const SIGFPE: i32 = 8;
pub const SIGKILL: i32 = 9;
pub const SIGUSR1: i32 = 10;
pub const SIGSEGV: i32 = 11;
pub const SIGUSR2: i32 = 12;
pub const SIGPIPE: i32 = 13;
pub const SIGALRM: i32 = 14;
pub const SIGTERM: i32 = 15;
pub const SIGSTKFLT: i32 = 16;
pub const SIGCHLD: i32 = 17;
pub const SIGCONT: i32 = 18;
pub const SIGSTOP: i32 = 19;
pub const SIGTSTP: i32 = 20;
pub const SIGTTIN: i32 = 21;
pub const SIGTTOU: i32 = 22;
pub const SIGURG: i32 = 23;
pub const SIGXCPU: i32 = 24;
pub const SIGXFSZ: i32 = 25;
pub const SIGVTALRM: i32 = 26;
pub const SIGPROF: i32 = 27;
pub const SIGWINCH: i32 = 28;
pub const SIGIO: i32 = 29;
pub const SIGPOLL: i32 = SIGIO;
pub const SIGPWR: i32 = 30;
pub const SIGSYS: i32 = 31;
/// First real-time signal as the kernel numbers them (glibc reserves 32 and 33 for itself and
/// reports 34 as its `SIGRTMIN()`).
pub const SIGRTMIN: i32 = 32;
/// Last real-time signal.
pub const SIGRTMAX: i32 = 64;
/// Number of signals (`_NSIG`); valid signals are `1..=NSIG`.
pub const NSIG: i32 = 64;

/// `rt_sigprocmask` how: add the set to the mask.
pub const SIG_BLOCK: i32 = 0;
/// `rt_sigprocmask` how: remove the set from the mask.
pub const SIG_UNBLOCK: i32 = 1;
/// `rt_sigprocmask` how: replace the mask.
pub const SIG_SETMASK: i32 = 2;

/// Whether `sig` names a signal (0 is valid for `kill` only as an existence probe).
pub const fn is_valid(sig: i32) -> bool {
    sig >= 1 && sig <= NSIG
}

/// Whether `sig` is a real-time (queued) signal.
pub const fn is_realtime(sig: i32) -> bool {
    sig >= SIGRTMIN && sig <= SIGRTMAX
}

/// The name of a standard signal, such as `"SIGSEGV"`; `None` for real-time and invalid ones.
pub const fn name(sig: i32) -> Option<&'static str> {
    const NAMES: [&str; 31] = [
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    if sig >= 1 && sig <= 31 {
        Some(NAMES[sig as usize - 1])
    } else {
        None
    }
}
