//! The tree a sandboxed program sees: the host directory as an overlay at `/`, a tmpfs at
//! `/tmp`, devfs at `/dev`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use abi::Errno;

use super::context::At;
use super::devfs::new_devfs;
use super::inode::FileSystem;
use super::overlay::OverlayFs;
use super::tmpfs::Tmpfs;
use super::{DEFAULT_DENTRY_LIMIT, Vfs};
use crate::host::{self, HostNode};

/// Why a sandbox tree could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("sandbox root {} is not a directory", .0.display())]
    NotADirectory(PathBuf),
    #[error("cannot open sandbox root {}: {errno}", path.display())]
    Root { path: PathBuf, errno: Errno },
    #[error("cannot mount {fs} on {at}: {errno}")]
    Mount {
        fs: &'static str,
        at: &'static str,
        errno: Errno,
    },
}

impl Vfs {
    /// The tree of a sandbox over the host directory `root`: `root` read-only under an
    /// in-memory upper layer at `/`, a fresh tmpfs at `/tmp`, devfs at `/dev`. Mount points
    /// missing from `root` are created in the upper layer (the host is never written).
    pub fn new_sandbox(root: &Path) -> Result<Vfs, SandboxError> {
        let host = HostNode::open_root(root).map_err(|errno| {
            if errno == Errno::ENOTDIR {
                SandboxError::NotADirectory(root.to_path_buf())
            } else {
                SandboxError::Root {
                    path: root.to_path_buf(),
                    errno,
                }
            }
        })?;
        // Cached host objects hold descriptors: keep the cache well inside the limit.
        let fd_limit = usize::try_from(host::raise_fd_limit()).unwrap_or(usize::MAX);
        let overlay = OverlayFs::new(host).map_err(|errno| SandboxError::Root {
            path: root.to_path_buf(),
            errno,
        })?;
        let vfs = Vfs::new(overlay);
        vfs.set_dentry_cache_limit((fd_limit / 4).clamp(256, DEFAULT_DENTRY_LIMIT));
        let tmp: Arc<dyn FileSystem> = Tmpfs::new(0o1777);
        let dev: Arc<dyn FileSystem> = new_devfs().map_err(|errno| SandboxError::Mount {
            fs: "devfs",
            at: "/dev",
            errno,
        })?;
        for (at, fs, name) in [("/tmp", tmp, "tmpfs"), ("/dev", dev, "devfs")] {
            vfs.mount_creating(at, fs)
                .map_err(|errno| SandboxError::Mount {
                    fs: name,
                    at,
                    errno,
                })?;
        }
        Ok(vfs)
    }

    /// Mounts `fs` at the absolute path `at`, creating the directory if missing.
    fn mount_creating(&self, at: &str, fs: Arc<dyn FileSystem>) -> Result<(), Errno> {
        let ctx = self.new_context();
        match self.mkdir(&ctx, At::Cwd, at.as_bytes(), 0o755) {
            Ok(()) => {}
            Err(e) if e == Errno::EEXIST => {}
            Err(e) => return Err(e),
        }
        self.mount(&ctx, At::Cwd, at.as_bytes(), fs)
    }
}
