//! Overlay nodes: one file seen through both layers.

use std::sync::{Arc, Mutex, OnceLock, Weak};

use abi::Errno;

use super::file::OvFileOps;
use super::{NodeKey, Origin, OvShared};
use crate::host::HostNode;
use crate::vfs::OpenFlags;
use crate::vfs::devfs::open_device;
use crate::vfs::file::FileOps;
use crate::vfs::inode::{DirEntry, Inode, NewAttr, NewNode, SetAttr};
use crate::vfs::lock;
use crate::vfs::stat::{FileStat, FileType};
use crate::vfs::tmpfs::TmpNode;

/// A file of the overlay: its lower object, its upper node, or both.
pub struct OvNode {
    pub(super) shared: Arc<OvShared>,
    pub(super) this: Weak<OvNode>,
    pub(super) ino: u64,
    pub(super) ftype: FileType,
    /// The host object, for files that came from the lower layer.
    pub(super) lower: Option<Arc<HostNode>>,
    /// The in-memory node, once created or copied up; set once.
    pub(super) upper: OnceLock<Arc<TmpNode>>,
    /// The directory and name a copy-up registers the upper node under.
    pub(super) parent: Mutex<Option<(Weak<OvNode>, Vec<u8>)>>,
    /// Target of a lower symbolic link, read once.
    link_target: OnceLock<Vec<u8>>,
}

impl OvNode {
    fn build(
        shared: &Arc<OvShared>,
        ino: u64,
        ftype: FileType,
        lower: Option<Arc<HostNode>>,
        upper: Option<Arc<TmpNode>>,
        parent: Option<(Weak<OvNode>, Vec<u8>)>,
    ) -> Arc<OvNode> {
        let cell = OnceLock::new();
        if let Some(u) = upper {
            let _ = cell.set(u);
        }
        Arc::new_cyclic(|this| OvNode {
            shared: shared.clone(),
            this: this.clone(),
            ino,
            ftype,
            lower,
            upper: cell,
            parent: Mutex::new(parent),
            link_target: OnceLock::new(),
        })
    }

    /// The root: the host directory with an upper directory made at once.
    pub(super) fn new_root(
        shared: &Arc<OvShared>,
        lower: Arc<HostNode>,
    ) -> Result<Arc<OvNode>, Errno> {
        let st = *lower.stat();
        let ino = shared.map_ino(st.dev, st.ino);
        let root = Self::build(shared, ino, FileType::Directory, Some(lower), None, None);
        let g = crate::vfs::lock(&shared.lock);
        let up = root.copy_up(&g)?;
        up.update_meta(|m| m.nlink = 2);
        drop(g);
        Ok(root)
    }

    /// The node for a host object found as `name` in `parent`.
    fn for_lower(parent: &OvNode, name: &[u8], host: HostNode) -> Arc<OvNode> {
        let shared = &parent.shared;
        let st = *host.stat();
        shared.node(NodeKey::Lower(st.dev, st.ino), || {
            let ftype = FileType::from_mode(st.mode).unwrap_or(FileType::Regular);
            let ino = shared.map_ino(st.dev, st.ino);
            let link = Some((parent.this.clone(), name.to_vec()));
            Self::build(shared, ino, ftype, Some(Arc::new(host)), None, link)
        })
    }

    /// The node for an upper entry `name` of `parent`.
    pub(super) fn for_upper(parent: &OvNode, name: &[u8], tmp: Arc<TmpNode>) -> Arc<OvNode> {
        let shared = &parent.shared;
        let origin = tmp.layer::<Origin>();
        let lower = origin.as_ref().and_then(|o| o.lower.clone());
        let key = match &lower {
            Some(l) => NodeKey::Lower(l.stat().dev, l.stat().ino),
            None => NodeKey::Upper(tmp.ino()),
        };
        shared.node(key, || {
            let ino = origin
                .as_ref()
                .map_or_else(|| shared.alloc_ino(), |o| o.ino);
            let link = Some((parent.this.clone(), name.to_vec()));
            Self::build(shared, ino, tmp.file_type(), lower, Some(tmp.clone()), link)
        })
    }

    pub(super) fn upper(&self) -> Option<&Arc<TmpNode>> {
        self.upper.get()
    }

    /// Whether this directory shows lower entries.
    pub(super) fn merges(&self) -> bool {
        self.ftype == FileType::Directory && self.lower.is_some()
    }

    /// Looks `name` up: the upper entry (a whiteout hides the name), else the lower one.
    pub(super) fn lookup_node(&self, name: &[u8]) -> Result<Arc<OvNode>, Errno> {
        if self.ftype != FileType::Directory {
            return Err(Errno::ENOTDIR);
        }
        if let Some(up) = self.upper()
            && let Some(n) = up.dir_get(name)?
        {
            if n.is_whiteout() {
                return Err(Errno::ENOENT);
            }
            return Ok(Self::for_upper(self, name, n));
        }
        match &self.lower {
            Some(l) => Ok(Self::for_lower(self, name, l.lookup(name)?)),
            None => Err(Errno::ENOENT),
        }
    }

    /// Whether the lower directory has `name` (what a removal must then hide).
    pub(super) fn lower_has(&self, name: &[u8]) -> bool {
        self.merges() && self.lower.as_ref().is_some_and(|l| l.lookup(name).is_ok())
    }

    pub(super) fn stat_node(&self) -> Result<FileStat, Errno> {
        if let Some(up) = self.upper() {
            let mut s = up.stat();
            s.dev = self.shared.dev;
            s.ino = self.ino;
            // Like overlayfs: the link count of a merged directory is not known.
            if self.merges() {
                s.nlink = 1;
            }
            return Ok(s);
        }
        // Every node has an upper node, a lower object, or both.
        let h = *self.lower.as_ref().ok_or(Errno::EIO)?.stat();
        Ok(FileStat::of_host(&h, self.shared.dev, self.ino))
    }
}

impl Inode for OvNode {
    fn file_type(&self) -> FileType {
        self.ftype
    }

    fn stat(&self) -> Result<FileStat, Errno> {
        self.stat_node()
    }

    fn setattr(&self, attr: &SetAttr) -> Result<(), Errno> {
        let g = lock(&self.shared.lock);
        let up = self.copy_up(&g)?;
        up.setattr(attr)
    }

    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>, Errno> {
        Ok(self.lookup_node(name)?)
    }

    fn create(
        &self,
        name: &[u8],
        node: NewNode<'_>,
        attr: &NewAttr,
    ) -> Result<Arc<dyn Inode>, Errno> {
        Ok(self.create_node(name, node, attr)?)
    }

    fn link(&self, name: &[u8], target: &Arc<dyn Inode>) -> Result<(), Errno> {
        self.link_node(name, target)
    }

    fn unlink(&self, name: &[u8], dir: bool) -> Result<(), Errno> {
        self.unlink_node(name, dir)
    }

    fn rename(
        &self,
        old: &[u8],
        new_dir: &Arc<dyn Inode>,
        new: &[u8],
        noreplace: bool,
    ) -> Result<(), Errno> {
        self.rename_node(old, new_dir, new, noreplace)
    }

    fn read_dir(&self) -> Result<Vec<DirEntry>, Errno> {
        self.merged_entries()
    }

    fn readlink(&self) -> Result<Vec<u8>, Errno> {
        if self.ftype != FileType::Symlink {
            return Err(Errno::EINVAL);
        }
        if let Some(up) = self.upper() {
            return up.symlink_target();
        }
        if let Some(t) = self.link_target.get() {
            return Ok(t.clone());
        }
        let t = self.lower.as_ref().ok_or(Errno::EIO)?.readlink()?;
        Ok(self.link_target.get_or_init(|| t).clone())
    }

    fn open(self: Arc<Self>, flags: OpenFlags) -> Result<Box<dyn FileOps>, Errno> {
        match self.ftype {
            FileType::Regular => {
                let writes = flags.access_mode() != abi::flags::open::O_RDONLY
                    || flags.contains(OpenFlags::TRUNC);
                if writes {
                    let g = lock(&self.shared.lock);
                    self.copy_up_with(&g, !flags.contains(OpenFlags::TRUNC))?;
                }
                let lower = match (self.upper(), &self.lower) {
                    (None, Some(l)) => Some(l.open_file()?),
                    _ => None,
                };
                Ok(Box::new(OvFileOps::new(self, lower)))
            }
            FileType::CharDevice => {
                let rdev = self.stat_node()?.rdev;
                open_device(rdev, self)
            }
            _ => Err(Errno::ENXIO),
        }
    }
}
