//! Fixtures shared by ringfence's tests and benchmarks: application code that runs in the
//! sandbox, assembled into the test binaries.

#[cfg(target_arch = "x86_64")]
pub mod snippets_x86_64;
#[cfg(target_arch = "x86_64")]
pub use snippets_x86_64 as snippets;

/// Where test and benchmark programs are compiled to. Not under /tmp: the sandbox mounts its
/// own tmpfs there, so programs in the host's /tmp are invisible inside it (and CI clones
/// under /tmp). `RF_FIXTURE_DIR` overrides it.
pub fn fixture_dir() -> std::path::PathBuf {
    let dir = std::env::var_os("RF_FIXTURE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from("/var/tmp/ringfence-fixtures"));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        panic!("cannot create the fixture directory {}: {e}", dir.display());
    }
    dir
}
