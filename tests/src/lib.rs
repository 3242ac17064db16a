//! Fixtures shared by ringfence's tests and benchmarks: application code that runs in the
//! sandbox, assembled into the test binaries.

#[cfg(target_arch = "x86_64")]
pub mod snippets_x86_64;
#[cfg(target_arch = "x86_64")]
pub use snippets_x86_64 as snippets;
