//! The virtual file system: mounts, dentries, file descriptions and descriptor tables.
//!
//! - [`Vfs`] holds the mount tree and implements the path-based operations (`open`, `stat`,
//!   `mkdir`, `unlinkat`, `renameat2`, …) with Linux's rules and errno values. Each takes the
//!   caller's [`FsContext`] (root, working directory, umask, credentials) and an [`At`] for
//!   relative paths; paths are bytes, as in Linux.
//! - [`OpenFile`] is a file description; [`FileOps`] the trait every kind of open file
//!   implements (here regular files, directories and devices; pipes, sockets and others
//!   elsewhere). [`FdTable`] maps descriptors to descriptions.
//! - File systems implement [`FileSystem`] and [`Inode`]: [`tmpfs`], [`overlay`] (the
//!   sandbox root: the host tree read-only under an in-memory upper layer), [`devfs`] and
//!   [`synthetic`] (contents produced by callbacks, for procfs).
//! - [`Vfs::new_sandbox`] builds the tree a sandboxed program sees.
//!
//! The VFS works on kernel buffers; copying from and to user memory is the syscall layer's.
//! Host files are reached only through [`crate::host`].

mod attr;
mod context;
mod cwd;
mod dentry;
pub mod devfs;
mod dir_file;
pub mod dirent;
mod fd_table;
mod file;
pub mod hostfs;
mod inode;
mod mount;
mod namei;
mod open;
pub mod overlay;
mod path;
mod perm;
mod sandbox;
mod setid;
mod stat;
pub mod synthetic;
pub mod tmpfs;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use abi::Errno;

pub use context::{At, FsContext, needs_dirfd};
pub use dentry::Dentry;
pub use fd_table::{DEFAULT_NOFILE, FdTable, NR_OPEN};
pub use file::{
    DEFAULT_POLLMASK, FileOps, MAX_OFFSET, OpenFile, SEEK_CUR, SEEK_DATA, SEEK_END, SEEK_HOLE,
    SEEK_SET, Whence, generic_seek, setfl_mask,
};
pub use inode::{DirEntry, FileSystem, Inode, NewAttr, NewNode, SetAttr};
pub use mount::{Location, Mount, new_anon_dev};
pub use path::{MAX_SYMLINKS, NAME_MAX, PATH_MAX};
pub use perm::{Creds, MAY_EXEC, MAY_READ, MAY_WRITE, check_access};
pub use sandbox::{MountKind, MountSpec, SandboxError};
pub use setid::{IdKind, NGROUPS_MAX};
pub use stat::{
    BLOCK_SIZE, FileStat, FileType, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG,
    S_IFSOCK, S_ISGID, S_ISUID, S_ISVTX, major, makedev, minor, now,
};

use dentry::DentryCache;
use mount::MountTable;
use path::Walker;

/// Open flags in the host architecture's encoding (the guest's, for same-arch guests).
pub type OpenFlags = abi::host::OpenFlags;

/// `renameat2` flag: fail with `EEXIST` rather than replace the target.
pub const RENAME_NOREPLACE: u32 = 1;
/// `renameat2` flag: swap the two names (not supported: `EINVAL`).
pub const RENAME_EXCHANGE: u32 = 2;
/// `renameat2` flag: leave a whiteout at the source (not supported: `EINVAL`).
pub const RENAME_WHITEOUT: u32 = 4;

/// `access` mode: the file exists.
pub const F_OK: u32 = 0;
/// `access` mode bits, the same as [`MAY_READ`], [`MAY_WRITE`], [`MAY_EXEC`].
pub const R_OK: u32 = 4;
pub const W_OK: u32 = 2;
pub const X_OK: u32 = 1;

/// Dentries cached before unused ones are dropped, unless the host's descriptor limit
/// calls for fewer.
const DEFAULT_DENTRY_LIMIT: usize = 16 * 1024;

/// The mount tree of one sandbox and the operations on paths in it.
pub struct Vfs {
    root_mount: Arc<Mount>,
    mounts: MountTable,
    dcache: DentryCache,
    /// Serialises renames (and cache sweeps), so a rename's loop check stays true while it
    /// runs, as Linux's `s_vfs_rename_mutex` does.
    rename_lock: Mutex<()>,
}

impl Vfs {
    /// A tree with `root_fs` mounted at `/`.
    pub fn new(root_fs: Arc<dyn FileSystem>) -> Vfs {
        Vfs {
            root_mount: Mount::new(root_fs, None),
            mounts: MountTable::default(),
            dcache: DentryCache::new(DEFAULT_DENTRY_LIMIT),
            rename_lock: Mutex::new(()),
        }
    }

    /// The root of the tree.
    pub fn root(&self) -> Location {
        Location::mount_root(&self.root_mount)
    }

    /// The context of a first task: root and working directory at `/`, umask 022, uid 0.
    pub fn new_context(&self) -> FsContext {
        FsContext {
            root: self.root(),
            cwd: self.root(),
            umask: 0o022,
            creds: Creds::root(),
        }
    }

    /// Mounts `fs` on what `path` names (following links): a directory if the root of `fs`
    /// is one (`ENOTDIR` otherwise), else a non-directory (`EISDIR` otherwise), as a bind
    /// mount of a file needs. A second mount on the same place covers the first.
    pub fn mount(
        &self,
        ctx: &FsContext,
        at: At<'_>,
        path: &[u8],
        fs: Arc<dyn FileSystem>,
    ) -> Result<Arc<Mount>, Errno> {
        let mut w = Walker::new(self, ctx);
        let start = w.start(at, path)?;
        let loc = w.resolve(start, path, true)?;
        match (fs.root().file_type() == FileType::Directory, loc.is_dir()) {
            (true, false) => return Err(Errno::ENOTDIR),
            (false, true) => return Err(Errno::EISDIR),
            _ => {}
        }
        self.mounts.mount(&loc, fs)
    }

    /// Caps the dentry cache (at least 16); unused dentries beyond it are dropped.
    pub fn set_dentry_cache_limit(&self, limit: usize) {
        self.dcache.set_limit(limit);
    }

    /// The number of cached dentries.
    pub fn cached_dentries(&self) -> usize {
        self.dcache.len()
    }

    /// Drops unused dentries if the cache is over its limit. Skipped while a rename runs
    /// (the next lookup will try again).
    fn maybe_sweep(&self) {
        if !self.dcache.over_limit() {
            return;
        }
        let Ok(_g) = self.rename_lock.try_lock() else {
            return;
        };
        let mut roots = vec![self.root_mount.root().clone()];
        roots.extend(self.mounts.all().iter().map(|m| m.root().clone()));
        self.dcache.sweep(&roots);
    }
}

/// Locks a mutex, ignoring poisoning: a panic elsewhere must not take the file system down
/// with it, and every critical section here leaves its data consistent between statements.
pub(crate) fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn read_lock<T: ?Sized>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn write_lock<T: ?Sized>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(PoisonError::into_inner)
}
