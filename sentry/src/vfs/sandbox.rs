//! The tree a sandboxed program sees: the host directory as an overlay at `/`, a tmpfs at
//! `/tmp`, devfs at `/dev`, then the mounts the container's configuration asks for (bind
//! mounts of host directories and files, more tmpfs instances).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use abi::Errno;

use super::context::At;
use super::devfs::new_devfs;
use super::hostfs::HostFs;
use super::inode::FileSystem;
use super::overlay::OverlayFs;
use super::stat::FileType;
use super::tmpfs::Tmpfs;
use super::{DEFAULT_DENTRY_LIMIT, OpenFlags, Vfs};
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
        at: String,
        errno: Errno,
    },
    #[error("cannot bind mount {}: {errno}", path.display())]
    BindSource { path: PathBuf, errno: Errno },
}

/// A mount the container asks for beyond the sandbox's own `/proc`, `/dev` and `/tmp`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountSpec {
    /// Where, as an absolute path inside the sandbox.
    pub destination: String,
    pub kind: MountKind,
    /// Changes through the mount fail with `EROFS`.
    pub readonly: bool,
}

/// What a [`MountSpec`] mounts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MountKind {
    /// A host directory or regular file, shared with the host (changes go through unless
    /// read-only).
    Bind { source: PathBuf },
    /// A fresh in-memory file system whose root has permission bits `mode`.
    Tmpfs { mode: u32 },
}

impl Vfs {
    /// The tree of a sandbox over the host directory `root`: `root` read-only under an
    /// in-memory upper layer at `/`, a fresh tmpfs at `/tmp`, devfs at `/dev`. Mount points
    /// missing from `root` are created in the upper layer (the host is never written).
    /// Then each of `mounts`, in order (a later one may sit inside an earlier one); missing
    /// mount points are made, as empty directories or files. Nothing is read-only until
    /// [`Vfs::apply_readonly`], so that the caller can still add its own mount points.
    pub fn new_sandbox(root: &Path, mounts: &[MountSpec]) -> Result<Vfs, SandboxError> {
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
            at: "/dev".into(),
            errno,
        })?;
        for (at, fs, name) in [("/tmp", tmp, "tmpfs"), ("/dev", dev, "devfs")] {
            vfs.mount_creating(at, fs)
                .map_err(|errno| SandboxError::Mount {
                    fs: name,
                    at: at.into(),
                    errno,
                })?;
        }
        for m in mounts {
            let (fs, name): (Arc<dyn FileSystem>, _) = match &m.kind {
                MountKind::Bind { source } => {
                    let bind_err = |errno| SandboxError::BindSource {
                        path: source.clone(),
                        errno,
                    };
                    let node = HostNode::open_bind_source(source).map_err(bind_err)?;
                    (HostFs::new(node).map_err(bind_err)?, "bind")
                }
                MountKind::Tmpfs { mode } => (Tmpfs::new(mode & 0o7777), "tmpfs"),
            };
            vfs.mount_creating(&m.destination, fs)
                .map_err(|errno| SandboxError::Mount {
                    fs: name,
                    at: m.destination.clone(),
                    errno,
                })?;
        }
        Ok(vfs)
    }

    /// Makes the root (if `root`) and each read-only one of `mounts` read-only; once the
    /// sandbox's own mount points are all made.
    pub fn apply_readonly(&self, root: bool, mounts: &[MountSpec]) -> Result<(), SandboxError> {
        let ctx = self.new_context();
        for m in mounts.iter().filter(|m| m.readonly) {
            let loc = self
                .resolve(&ctx, At::Cwd, m.destination.as_bytes(), true)
                .map_err(|errno| SandboxError::Mount {
                    fs: "read-only",
                    at: m.destination.clone(),
                    errno,
                })?;
            loc.mount().set_readonly(true);
        }
        if root {
            self.root().mount().set_readonly(true);
        }
        Ok(())
    }

    /// Mounts `fs` at the absolute path `at`, making the mount point (and its parents) if
    /// missing: a directory, or an empty file when `fs` is a bind mount of one.
    fn mount_creating(&self, at: &str, fs: Arc<dyn FileSystem>) -> Result<(), Errno> {
        let ctx = self.new_context();
        let path = at.as_bytes();
        let mut end = 0;
        // Parents first: each prefix ending before a '/'.
        while let Some(i) = path[end + 1..].iter().position(|&b| b == b'/') {
            end += 1 + i;
            ignore_exists(self.mkdir(&ctx, At::Cwd, &path[..end], 0o755))?;
        }
        if fs.root().file_type() == FileType::Directory {
            ignore_exists(self.mkdir(&ctx, At::Cwd, path, 0o755))?;
        } else {
            let flags = OpenFlags::CREAT | OpenFlags::WRONLY;
            match self.open(&ctx, At::Cwd, path, flags, 0o644) {
                Ok(_) => {}
                // An existing directory: `mount` says EISDIR below.
                Err(e) if e == Errno::EISDIR => {}
                Err(e) => return Err(e),
            }
        }
        self.mount(&ctx, At::Cwd, path, fs).map(drop)
    }
}

/// `Ok` for an operation that failed only because its target exists.
fn ignore_exists(r: Result<(), Errno>) -> Result<(), Errno> {
    match r {
        Err(e) if e == Errno::EEXIST => Ok(()),
        other => other,
    }
}
