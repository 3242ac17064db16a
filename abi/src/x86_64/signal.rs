/// Smallest alternate signal stack `sigaltstack` accepts (the actual need of a CPU with large
/// extended state is reported in `AT_MINSIGSTKSZ`).
pub const MINSIGSTKSZ: u64 = 2048;
/// Suggested alternate signal stack size.
pub const SIGSTKSZ: u64 = 8192;
