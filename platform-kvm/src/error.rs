//! Errors of the KVM platform.

use std::io;
use std::path::PathBuf;

/// What went wrong setting up or running the KVM platform.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "KVM is not available: {} does not exist (load the kvm module, or pass the device \
         into this container or VM)",
        .0.display()
    )]
    NoKvm(PathBuf),
    #[error("KVM is not usable: cannot open {}: {source}", .path.display())]
    OpenKvm {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("KVM API version {0} is not supported (need 12)")]
    ApiVersion(i32),
    #[error("the KVM platform does not support this architecture yet")]
    UnsupportedArch,
    #[error("KVM lacks a required capability: {0}")]
    MissingCapability(&'static str),
    #[error("KVM {op} failed: {source}")]
    Kvm {
        op: &'static str,
        #[source]
        source: kvm_ioctls::Error,
    },
    #[error("host memory for {what} ({size} bytes): {source}")]
    HostMemory {
        what: &'static str,
        size: u64,
        #[source]
        source: io::Error,
    },
    #[error("the memory file cannot be created: {0}")]
    MemoryFile(#[source] io::Error),
    #[error("page tables: {0}")]
    PageTables(String),
    #[error("invalid range {addr:#x}+{len:#x}: {why}")]
    InvalidRange {
        addr: u64,
        len: u64,
        why: &'static str,
    },
    #[error("the guest stopped unexpectedly: {0}")]
    GuestFailure(String),
}

impl Error {
    /// An address space (or guest mode) of another machine was passed to this one's context.
    pub(crate) fn other_machine() -> Error {
        Error::InvalidRange {
            addr: 0,
            len: 0,
            why: "address space or guest mode belongs to another machine",
        }
    }

    pub(crate) fn kvm(op: &'static str) -> impl FnOnce(kvm_ioctls::Error) -> Error {
        move |source| Error::Kvm { op, source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
