//! The interface between the VFS and a file system: [`FileSystem`] and [`Inode`].
//!
//! The VFS does path walking, the dentry cache, mount crossing, permission checks and the
//! checks that need a path (`.`/`..`, mount points, rename loops). A file system does the rest
//! atomically under its own locks: existence (`ENOENT`/`EEXIST`), emptiness (`ENOTEMPTY`),
//! type rules of replacement (`EISDIR`/`ENOTDIR`) and link counts. Every namespace change of
//! a directory reaches its inode while the VFS holds that directory's dentry lock, so a file
//! system sees them one at a time per directory.

use std::any::Any;
use std::sync::Arc;

use abi::{Errno, Timespec};

use super::OpenFlags;
use super::file::FileOps;
use super::stat::{FileStat, FileType};

/// A mountable file system instance.
pub trait FileSystem: Send + Sync {
    /// The type name, as `/proc/mounts` shows it (`tmpfs`, `overlay`, …).
    fn name(&self) -> &str;
    /// The root directory.
    fn root(&self) -> Arc<dyn Inode>;
}

/// What [`Inode::create`] makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NewNode<'a> {
    File,
    Directory,
    /// A symbolic link to the given target.
    Symlink(&'a [u8]),
}

/// Owner and permission bits of a new node (the VFS has applied the umask already).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewAttr {
    /// Permission, set-id and sticky bits (no file type bits).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// A metadata change. `ctime` becomes now whenever anything changes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SetAttr {
    /// New permission, set-id and sticky bits (the type bits are kept).
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// New size of a regular file (zero-filled when it grows).
    pub size: Option<u64>,
    pub atime: Option<Timespec>,
    pub mtime: Option<Timespec>,
}

/// One name in a directory, as [`Inode::read_dir`] lists it (`.` and `..` excluded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    pub name: Vec<u8>,
    pub ino: u64,
    /// `None` if the file system cannot tell without a lookup (`DT_UNKNOWN`).
    pub file_type: Option<FileType>,
}

/// A file (of any type) of some file system. Directory operations default to `ENOTDIR` and
/// namespace changes to `EPERM`, so read-only and synthetic file systems implement only what
/// they have.
pub trait Inode: Any + Send + Sync {
    /// The type; fixed for the life of the inode.
    fn file_type(&self) -> FileType;

    /// The current metadata.
    fn stat(&self) -> Result<FileStat, Errno>;

    /// Changes metadata. Permission checks are the caller's.
    fn setattr(&self, attr: &SetAttr) -> Result<(), Errno> {
        let _ = attr;
        Err(Errno::EPERM)
    }

    /// Looks up one name (never `.` or `..`, never containing `/`) in this directory.
    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>, Errno> {
        let _ = name;
        Err(Errno::ENOTDIR)
    }

    /// Creates `name` in this directory; `EEXIST` if the name is taken.
    fn create(
        &self,
        name: &[u8],
        node: NewNode<'_>,
        attr: &NewAttr,
    ) -> Result<Arc<dyn Inode>, Errno> {
        let _ = (name, node, attr);
        Err(Errno::EPERM)
    }

    /// Adds `name` in this directory as a new link to `target`, a non-directory of the same
    /// file system (`EXDEV` otherwise); `EEXIST` if the name is taken.
    fn link(&self, name: &[u8], target: &Arc<dyn Inode>) -> Result<(), Errno> {
        let _ = (name, target);
        Err(Errno::EPERM)
    }

    /// Removes `name`: a directory (which must be empty: `ENOTEMPTY`) if `dir`, else a
    /// non-directory (`EISDIR`/`ENOTDIR` on a mismatch).
    fn unlink(&self, name: &[u8], dir: bool) -> Result<(), Errno> {
        let _ = (name, dir);
        Err(Errno::EPERM)
    }

    /// Moves `old` of this directory to `new` in `new_dir` (of the same file system),
    /// replacing what is there under `rename(2)`'s rules unless `noreplace` (`EEXIST`).
    fn rename(
        &self,
        old: &[u8],
        new_dir: &Arc<dyn Inode>,
        new: &[u8],
        noreplace: bool,
    ) -> Result<(), Errno> {
        let _ = (old, new_dir, new, noreplace);
        Err(Errno::EPERM)
    }

    /// Lists this directory, without `.` and `..`.
    fn read_dir(&self) -> Result<Vec<DirEntry>, Errno> {
        Err(Errno::ENOTDIR)
    }

    /// The target of this symbolic link (`EINVAL` for other types).
    fn readlink(&self) -> Result<Vec<u8>, Errno> {
        Err(Errno::EINVAL)
    }

    /// Opens this non-directory, non-symlink file: the operations of the new file
    /// description. The VFS has checked permissions and handled `O_TRUNC`; `flags` tells
    /// whether writing is wanted.
    fn open(self: Arc<Self>, flags: OpenFlags) -> Result<Box<dyn FileOps>, Errno> {
        let _ = flags;
        Err(Errno::ENXIO)
    }
}

/// Downcasts an inode to the concrete type of a file system.
pub(crate) fn downcast<T: Inode>(inode: &Arc<dyn Inode>) -> Option<Arc<T>> {
    let any: Arc<dyn Any + Send + Sync> = inode.clone();
    any.downcast::<T>().ok()
}
