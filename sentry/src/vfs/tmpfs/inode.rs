//! tmpfs nodes as VFS inodes.

use std::sync::Arc;

use abi::Errno;

use super::data::FileData;
use super::file::MemFileOps;
use super::node::{Body, Meta, TmpNode};
use crate::vfs::OpenFlags;
use crate::vfs::devfs::open_device;
use crate::vfs::file::FileOps;
use crate::vfs::inode::{DirEntry, Inode, NewAttr, NewNode, SetAttr, downcast};
use crate::vfs::stat::{FileStat, FileType, S_IFDIR, S_IFLNK, S_IFREG};

impl TmpNode {
    /// A node of the kind `node` asks for, not yet linked anywhere.
    pub(crate) fn make(&self, node: NewNode<'_>, attr: &NewAttr) -> Arc<TmpNode> {
        let fs = self.fs();
        match node {
            NewNode::File => TmpNode::new_file(
                fs,
                Meta::new(S_IFREG | attr.mode, attr.uid, attr.gid),
                FileData::new(),
            ),
            NewNode::Directory => {
                TmpNode::new_dir(fs, Meta::new(S_IFDIR | attr.mode, attr.uid, attr.gid))
            }
            NewNode::Symlink(target) => TmpNode::new(
                fs,
                Meta::new(S_IFLNK | 0o777, attr.uid, attr.gid),
                Body::Symlink(target.to_vec()),
            ),
        }
    }

    /// `other` as a node of the same tmpfs (`EXDEV` otherwise).
    fn same_fs(&self, other: &Arc<dyn Inode>) -> Result<Arc<TmpNode>, Errno> {
        let node = downcast::<TmpNode>(other).ok_or(Errno::EXDEV)?;
        if !Arc::ptr_eq(node.fs(), self.fs()) {
            return Err(Errno::EXDEV);
        }
        Ok(node)
    }
}

impl Inode for TmpNode {
    fn file_type(&self) -> FileType {
        TmpNode::file_type(self)
    }

    fn stat(&self) -> Result<FileStat, Errno> {
        Ok(TmpNode::stat(self))
    }

    fn setattr(&self, attr: &SetAttr) -> Result<(), Errno> {
        TmpNode::setattr(self, attr)
    }

    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>, Errno> {
        match self.dir_get(name)? {
            Some(n) if !n.is_whiteout() => Ok(n),
            _ => Err(Errno::ENOENT),
        }
    }

    fn create(
        &self,
        name: &[u8],
        node: NewNode<'_>,
        attr: &NewAttr,
    ) -> Result<Arc<dyn Inode>, Errno> {
        let child = self.make(node, attr);
        self.dir_insert(name, &child, false)?;
        Ok(child)
    }

    fn link(&self, name: &[u8], target: &Arc<dyn Inode>) -> Result<(), Errno> {
        let node = self.same_fs(target)?;
        if node.file_type() == FileType::Directory {
            return Err(Errno::EPERM);
        }
        // A file whose last link is gone cannot get a new one.
        if node.meta().nlink == 0 {
            return Err(Errno::ENOENT);
        }
        self.dir_insert(name, &node, false)
    }

    fn unlink(&self, name: &[u8], dir: bool) -> Result<(), Errno> {
        self.dir_remove(name, dir).map(|_| ())
    }

    fn rename(
        &self,
        old: &[u8],
        new_dir: &Arc<dyn Inode>,
        new: &[u8],
        noreplace: bool,
    ) -> Result<(), Errno> {
        let to = self.same_fs(new_dir)?;
        TmpNode::rename(self, old, &to, new, noreplace)
    }

    fn read_dir(&self) -> Result<Vec<DirEntry>, Errno> {
        Ok(self
            .dir_entries()?
            .into_iter()
            .filter(|(_, n)| !n.is_whiteout())
            .map(|(name, n)| DirEntry {
                name,
                ino: n.ino(),
                file_type: Some(n.file_type()),
            })
            .collect())
    }

    fn readlink(&self) -> Result<Vec<u8>, Errno> {
        self.symlink_target()
    }

    fn open(self: Arc<Self>, _flags: OpenFlags) -> Result<Box<dyn FileOps>, Errno> {
        match self.body() {
            Body::File(_) => Ok(Box::new(MemFileOps::new(self.clone()))),
            Body::Special { rdev } if self.file_type() == FileType::CharDevice => {
                let rdev = *rdev;
                open_device(rdev, self)
            }
            _ => Err(Errno::ENXIO),
        }
    }
}
