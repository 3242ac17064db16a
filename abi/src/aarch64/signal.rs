/// Smallest alternate signal stack `sigaltstack` accepts; larger than x86_64's because the
/// signal frame carries the SIMD and SVE state.
pub const MINSIGSTKSZ: u64 = 5120;
/// Suggested alternate signal stack size.
pub const SIGSTKSZ: u64 = 16384;
