//! hostfs: a host directory or file shared with the sandbox by a bind mount. Unlike the
//! overlay at `/`, changes go through to the host (unless the mount is read-only, which the
//! VFS enforces), and the host may change the tree too: metadata is read from the host on
//! every `stat`, never cached.
//!
//! Every object is reached from the bind source one name at a time through
//! [`crate::host::HostNode`], so the sandbox cannot leave the bound tree: `..` and symbolic
//! links are resolved by the VFS inside the sandbox's namespace.

mod file;

use std::sync::Arc;

use abi::Errno;

use super::OpenFlags;
use super::file::FileOps;
use super::inode::{DirEntry, FileSystem, Inode, NewAttr, NewNode, SetAttr, downcast};
use super::mount::new_anon_dev;
use super::stat::{FileStat, FileType};
use crate::host::{HostNewNode, HostNode};

/// One bind mount's file system.
pub struct HostFs {
    root: Arc<HostInode>,
}

impl HostFs {
    /// The file system of a bind mount of `source` (a directory or a regular file).
    pub fn new(source: HostNode) -> Result<Arc<HostFs>, Errno> {
        let dev = new_anon_dev();
        let root = HostInode::new(source, dev)?;
        Ok(Arc::new(HostFs { root }))
    }
}

impl FileSystem for HostFs {
    fn name(&self) -> &str {
        "bind"
    }

    fn root(&self) -> Arc<dyn Inode> {
        self.root.clone()
    }
}

/// A host object seen through a bind mount.
pub struct HostInode {
    node: HostNode,
    ftype: FileType,
    /// The mount's device number, reported instead of the host's.
    dev: u64,
}

impl HostInode {
    fn new(node: HostNode, dev: u64) -> Result<Arc<HostInode>, Errno> {
        let ftype = FileType::from_mode(node.stat().mode).ok_or(Errno::EIO)?;
        Ok(Arc::new(HostInode { node, ftype, dev }))
    }

    fn stat_now(&self) -> Result<FileStat, Errno> {
        let h = self.node.restat()?;
        Ok(FileStat::of_host(&h, self.dev, h.ino))
    }
}

/// The host node behind `inode` if it belongs to the same bind mount (`EXDEV` otherwise).
fn same_mount(me: &HostInode, inode: &Arc<dyn Inode>) -> Result<Arc<HostInode>, Errno> {
    downcast::<HostInode>(inode)
        .filter(|h| h.dev == me.dev)
        .ok_or(Errno::EXDEV)
}

impl Inode for HostInode {
    fn file_type(&self) -> FileType {
        self.ftype
    }

    fn stat(&self) -> Result<FileStat, Errno> {
        self.stat_now()
    }

    fn setattr(&self, attr: &SetAttr) -> Result<(), Errno> {
        if let Some(size) = attr.size {
            self.node.set_size(size)?;
        }
        if attr.uid.is_some() || attr.gid.is_some() {
            self.node.set_owner(attr.uid, attr.gid)?;
        }
        // After chown, which clears set-id bits on the host as it does here.
        if let Some(mode) = attr.mode {
            self.node.set_mode(mode)?;
        }
        if attr.atime.is_some() || attr.mtime.is_some() {
            self.node.set_times(attr.atime, attr.mtime)?;
        }
        Ok(())
    }

    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>, Errno> {
        let node = self.node.lookup(name)?;
        Ok(HostInode::new(node, self.dev)?)
    }

    fn create(
        &self,
        name: &[u8],
        node: NewNode<'_>,
        attr: &NewAttr,
    ) -> Result<Arc<dyn Inode>, Errno> {
        let kind = match node {
            NewNode::File => HostNewNode::File,
            NewNode::Directory => HostNewNode::Directory,
            NewNode::Symlink(target) => HostNewNode::Symlink(target),
        };
        let made = self
            .node
            .create(name, kind, attr.mode, attr.uid, attr.gid)?;
        Ok(HostInode::new(made, self.dev)?)
    }

    fn link(&self, name: &[u8], target: &Arc<dyn Inode>) -> Result<(), Errno> {
        let target = same_mount(self, target)?;
        self.node.link(name, &target.node)
    }

    fn unlink(&self, name: &[u8], dir: bool) -> Result<(), Errno> {
        self.node.unlink(name, dir)
    }

    fn rename(
        &self,
        old: &[u8],
        new_dir: &Arc<dyn Inode>,
        new: &[u8],
        noreplace: bool,
    ) -> Result<(), Errno> {
        let new_dir = same_mount(self, new_dir)?;
        self.node.rename(old, &new_dir.node, new, noreplace)
    }

    fn read_dir(&self) -> Result<Vec<DirEntry>, Errno> {
        Ok(self
            .node
            .read_dir()?
            .into_iter()
            .map(|e| DirEntry {
                name: e.name,
                ino: e.ino,
                file_type: FileType::from_dirent_type(e.d_type),
            })
            .collect())
    }

    fn readlink(&self) -> Result<Vec<u8>, Errno> {
        self.node.readlink()
    }

    fn open(self: Arc<Self>, flags: OpenFlags) -> Result<Box<dyn FileOps>, Errno> {
        let write = flags.access_mode() != abi::flags::open::O_RDONLY;
        let data = self.node.open_data(write)?;
        Ok(Box::new(file::HostFileOps::new(self, data)))
    }
}
