//! Every access the sentry makes to host files goes through this module, so that it can later
//! move behind a file proxy.
//!
//! The API is deliberately small: a [`HostNode`] is one host object opened with
//! `O_PATH`, reached from the sandbox root one name at a time (`openat` with `O_NOFOLLOW`, names
//! never `.`, `..` or containing `/`), so nothing can escape the root — the VFS resolves `..` and
//! symbolic links itself, inside the sandbox namespace. Data is read through a [`HostFile`]
//! reopened from the node. Only `write.rs` changes host files, and only for what a container
//! was given with a read-write bind mount; the sandbox root is never written.
//!
//! Host mounts of kernel pseudo file systems (procfs, sysfs, debugfs, …) met under the root are
//! *sealed*: they show up as empty directories, because reading them would expose the sentry
//! itself (`/proc/self/mem`, `/proc/self/environ`) or the host to the sandbox.
// This is the one sentry module allowed to call the host through `libc`; every unsafe block
// states its invariant in a `SAFETY:` comment.
#![allow(unsafe_code)]

mod file;
mod node;
mod stdio;
mod sys;
mod write;

pub use file::HostFile;
pub use node::{HostDirEntry, HostNode, HostStat};
pub use stdio::HostStream;
pub use sys::{cpuinfo, getrandom, raise_fd_limit};
pub use write::HostNewNode;

use abi::Errno;

/// The errno of the last failed libc call.
fn last_errno() -> Errno {
    Errno::new(
        std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO),
    )
}
