//! In-memory nodes and the primitive operations on them, shared by tmpfs's [`Inode`]
//! implementation and by the overlay, whose upper layer is made of these nodes.
//!
//! Lock order: a directory's entries before its children's entries (two unrelated
//! directories only under the VFS rename lock or the overlay's lock); entries or data before
//! any `meta`; never two `meta` locks at once.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use abi::{Errno, Timespec};

use super::data::FileData;
use crate::vfs::inode::SetAttr;
use crate::vfs::lock;
use crate::vfs::stat::{BLOCK_SIZE, FileStat, FileType, MODE_PERM_MASK, S_IFCHR, S_IFMT, now};

/// What Linux's tmpfs counts per directory entry in a directory's size.
const DIRENT_SIZE: u64 = 20;

/// State shared by the nodes of one file system.
pub(crate) struct TmpShared {
    pub(crate) dev: u64,
    next_ino: AtomicU64,
}

impl TmpShared {
    pub(crate) fn new(dev: u64) -> Arc<TmpShared> {
        Arc::new(TmpShared {
            dev,
            next_ino: AtomicU64::new(1),
        })
    }
}

/// Ownership, mode, link count and times of a node.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Meta {
    /// Type and permission bits.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u64,
    pub atime: Timespec,
    pub mtime: Timespec,
    pub ctime: Timespec,
}

impl Meta {
    /// Metadata of a new node; the link count grows as names are added.
    pub(crate) fn new(mode: u32, uid: u32, gid: u32) -> Meta {
        let t = now();
        Meta {
            mode,
            uid,
            gid,
            nlink: 0,
            atime: t,
            mtime: t,
            ctime: t,
        }
    }
}

pub(crate) enum Body {
    File(Mutex<FileData>),
    Dir(Mutex<DirState>),
    Symlink(Vec<u8>),
    /// A device, FIFO or socket node (the type is in the mode).
    Special {
        rdev: u64,
    },
    /// An overlay whiteout: a name hiding the lower layer's entry (Linux uses a 0/0 character
    /// device). Never shown by tmpfs itself.
    Whiteout,
}

/// A directory's entries with their names.
pub(crate) type Entries = Vec<(Vec<u8>, Arc<TmpNode>)>;

pub(crate) struct DirState {
    entries: BTreeMap<Vec<u8>, Arc<TmpNode>>,
    /// Set by `rmdir`: nothing may be created in it any more.
    removed: bool,
}

/// A file of a tmpfs (or of the overlay's upper layer).
pub struct TmpNode {
    ino: u64,
    ftype: FileType,
    fs: Arc<TmpShared>,
    meta: Mutex<Meta>,
    body: Body,
    /// Data a file system built on tmpfs nodes attaches (the overlay's origin record).
    layer: OnceLock<Arc<dyn Any + Send + Sync>>,
}

impl TmpNode {
    pub(crate) fn new(fs: &Arc<TmpShared>, meta: Meta, body: Body) -> Arc<TmpNode> {
        let ftype = match body {
            Body::Whiteout => FileType::CharDevice,
            _ => FileType::from_mode(meta.mode).unwrap_or(FileType::Regular),
        };
        let mut meta = meta;
        if matches!(body, Body::Whiteout) {
            meta.mode = S_IFCHR;
        }
        Arc::new(TmpNode {
            ino: fs.next_ino.fetch_add(1, Ordering::Relaxed),
            ftype,
            fs: fs.clone(),
            meta: Mutex::new(meta),
            body,
            layer: OnceLock::new(),
        })
    }

    /// A new empty directory.
    pub(crate) fn new_dir(fs: &Arc<TmpShared>, meta: Meta) -> Arc<TmpNode> {
        Self::new(
            fs,
            meta,
            Body::Dir(Mutex::new(DirState {
                entries: BTreeMap::new(),
                removed: false,
            })),
        )
    }

    /// A new regular file holding `data`.
    pub(crate) fn new_file(fs: &Arc<TmpShared>, meta: Meta, data: FileData) -> Arc<TmpNode> {
        Self::new(fs, meta, Body::File(Mutex::new(data)))
    }

    pub fn ino(&self) -> u64 {
        self.ino
    }

    pub fn file_type(&self) -> FileType {
        self.ftype
    }

    pub(crate) fn fs(&self) -> &Arc<TmpShared> {
        &self.fs
    }

    pub(crate) fn body(&self) -> &Body {
        &self.body
    }

    pub(crate) fn is_whiteout(&self) -> bool {
        matches!(self.body, Body::Whiteout)
    }

    pub(crate) fn set_layer(&self, data: Arc<dyn Any + Send + Sync>) {
        let _ = self.layer.set(data);
    }

    pub(crate) fn layer<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.layer.get().cloned()?.downcast::<T>().ok()
    }

    pub(crate) fn meta(&self) -> Meta {
        *lock(&self.meta)
    }

    /// Updates the metadata in place.
    pub(crate) fn update_meta(&self, f: impl FnOnce(&mut Meta)) {
        f(&mut lock(&self.meta));
    }

    /// Marks a content change: mtime and ctime become now.
    fn touch_modified(&self) {
        let t = now();
        self.update_meta(|m| {
            m.mtime = t;
            m.ctime = t;
        });
    }

    fn touch_changed(&self) {
        let t = now();
        self.update_meta(|m| m.ctime = t);
    }

    pub(crate) fn stat(&self) -> FileStat {
        let (size, blocks, rdev) = match &self.body {
            Body::File(d) => {
                let d = lock(d);
                (d.len(), d.blocks(), 0)
            }
            Body::Dir(d) => (DIRENT_SIZE * (lock(d).entries.len() as u64 + 2), 0, 0),
            Body::Symlink(t) => (t.len() as u64, 0, 0),
            Body::Special { rdev } => (0, 0, *rdev),
            Body::Whiteout => (0, 0, 0),
        };
        let m = self.meta();
        FileStat {
            dev: self.fs.dev,
            ino: self.ino,
            mode: m.mode,
            nlink: m.nlink,
            uid: m.uid,
            gid: m.gid,
            rdev,
            size,
            blksize: BLOCK_SIZE,
            blocks,
            atime: m.atime,
            mtime: m.mtime,
            ctime: m.ctime,
        }
    }

    pub(crate) fn setattr(&self, attr: &SetAttr) -> Result<(), Errno> {
        if let Some(size) = attr.size {
            match &self.body {
                Body::File(d) => lock(d).set_len(size)?,
                Body::Dir(_) => return Err(Errno::EISDIR),
                _ => return Err(Errno::EINVAL),
            }
        }
        let t = now();
        self.update_meta(|m| {
            if let Some(mode) = attr.mode {
                m.mode = (m.mode & S_IFMT) | (mode & MODE_PERM_MASK);
            }
            if let Some(uid) = attr.uid {
                m.uid = uid;
            }
            if let Some(gid) = attr.gid {
                m.gid = gid;
            }
            if let Some(a) = attr.atime {
                m.atime = a;
            }
            if let Some(mt) = attr.mtime {
                m.mtime = mt;
            }
            m.ctime = t;
        });
        Ok(())
    }

    /// The target of a symbolic link.
    pub(crate) fn symlink_target(&self) -> Result<Vec<u8>, Errno> {
        match &self.body {
            Body::Symlink(t) => Ok(t.clone()),
            _ => Err(Errno::EINVAL),
        }
    }

    // --- Regular files.

    fn data(&self) -> Result<&Mutex<FileData>, Errno> {
        match &self.body {
            Body::File(d) => Ok(d),
            Body::Dir(_) => Err(Errno::EISDIR),
            _ => Err(Errno::EINVAL),
        }
    }

    /// The length of a regular file.
    pub(crate) fn size(&self) -> Result<u64, Errno> {
        Ok(lock(self.data()?).len())
    }

    pub(crate) fn read_at(&self, buf: &mut [u8], off: u64) -> Result<usize, Errno> {
        Ok(lock(self.data()?).read_at(buf, off))
    }

    /// Writes at `off`, or at the end if `None` (atomically with finding the end, for
    /// `O_APPEND`); returns the offset written at and the count.
    pub(crate) fn write_at(&self, buf: &[u8], off: Option<u64>) -> Result<(u64, usize), Errno> {
        let (at, n) = {
            let mut d = lock(self.data()?);
            let at = off.unwrap_or(d.len());
            (at, d.write_at(buf, at)?)
        };
        if n > 0 {
            self.touch_modified();
        }
        Ok((at, n))
    }

    /// `SEEK_DATA`/`SEEK_HOLE` answers for a regular file.
    pub(crate) fn next_data(&self, off: u64) -> Result<Option<u64>, Errno> {
        Ok(lock(self.data()?).next_data(off))
    }

    pub(crate) fn next_hole(&self, off: u64) -> Result<u64, Errno> {
        Ok(lock(self.data()?).next_hole(off))
    }

    // --- Directories.

    fn dir(&self) -> Result<&Mutex<DirState>, Errno> {
        match &self.body {
            Body::Dir(d) => Ok(d),
            _ => Err(Errno::ENOTDIR),
        }
    }

    /// The node named `name`, whiteouts included.
    pub(crate) fn dir_get(&self, name: &[u8]) -> Result<Option<Arc<TmpNode>>, Errno> {
        Ok(lock(self.dir()?).entries.get(name).cloned())
    }

    /// Every entry, whiteouts included, in name order.
    pub(crate) fn dir_entries(&self) -> Result<Entries, Errno> {
        Ok(lock(self.dir()?)
            .entries
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    /// Whether the directory has no entries but whiteouts.
    pub(crate) fn dir_is_empty(&self) -> Result<bool, Errno> {
        Ok(lock(self.dir()?).entries.values().all(|n| n.is_whiteout()))
    }

    /// Adds `child` as `name`: `EEXIST` if taken (a whiteout is replaced only if
    /// `over_whiteout`), `ENOENT` in a removed directory. Counts the new link.
    pub(crate) fn dir_insert(
        &self,
        name: &[u8],
        child: &Arc<TmpNode>,
        over_whiteout: bool,
    ) -> Result<(), Errno> {
        // A node without links is new (its times are already now); another link to an
        // existing one changes its ctime.
        let new_link = {
            let mut d = lock(self.dir()?);
            if d.removed {
                return Err(Errno::ENOENT);
            }
            if let Some(old) = d.entries.get(name)
                && !(over_whiteout && old.is_whiteout())
            {
                return Err(Errno::EEXIST);
            }
            d.entries.insert(name.to_vec(), child.clone());
            let linked = child.meta().nlink > 0;
            if child.ftype == FileType::Directory {
                child.update_meta(|m| m.nlink = 2);
                self.update_meta(|m| m.nlink += 1);
            } else if !child.is_whiteout() {
                child.update_meta(|m| m.nlink += 1);
            }
            linked
        };
        if new_link {
            child.touch_changed();
        }
        self.touch_modified();
        Ok(())
    }

    /// Adds a whiteout as `name` (which must be free).
    pub(crate) fn dir_put_whiteout(&self, name: &[u8]) -> Result<(), Errno> {
        let w = TmpNode::new(&self.fs, Meta::new(S_IFCHR, 0, 0), Body::Whiteout);
        self.dir_insert(name, &w, false)
    }

    /// Removes `name`: a directory that is empty but for whiteouts if `dir` (`ENOTDIR`,
    /// `ENOTEMPTY`), else a non-directory (`EISDIR`). `ENOENT` if absent or a whiteout.
    pub(crate) fn dir_remove(&self, name: &[u8], dir: bool) -> Result<Arc<TmpNode>, Errno> {
        let child = {
            let mut d = lock(self.dir()?);
            let child = match d.entries.get(name) {
                Some(c) if !c.is_whiteout() => c.clone(),
                _ => return Err(Errno::ENOENT),
            };
            check_kind(&child, dir)?;
            if dir {
                child.retire_dir()?;
                self.update_meta(|m| m.nlink = m.nlink.saturating_sub(1));
            } else {
                child.update_meta(|m| m.nlink = m.nlink.saturating_sub(1));
            }
            d.entries.remove(name);
            child
        };
        child.touch_changed();
        self.touch_modified();
        Ok(child)
    }

    /// Marks an empty (but for whiteouts) directory removed: no entries, no links.
    fn retire_dir(&self) -> Result<(), Errno> {
        let mut d = lock(self.dir()?);
        if !d.entries.values().all(|n| n.is_whiteout()) {
            return Err(Errno::ENOTEMPTY);
        }
        d.entries.clear();
        d.removed = true;
        self.update_meta(|m| m.nlink = 0);
        Ok(())
    }

    /// Moves `old` of `from` to `new` of `to` under `rename(2)`'s rules: a whiteout target is
    /// simply replaced; `EEXIST` if `noreplace` and the target exists; nothing happens if both
    /// names are links to the same node; a directory replaces only an empty directory.
    pub(crate) fn rename(
        from: &TmpNode,
        old: &[u8],
        to: &TmpNode,
        new: &[u8],
        noreplace: bool,
    ) -> Result<(), Errno> {
        let same_dir = std::ptr::eq(from, to);
        let (mut first, mut second) = if same_dir {
            (lock(from.dir()?), None)
        } else if from.ino < to.ino {
            let a = lock(from.dir()?);
            (a, Some(lock(to.dir()?)))
        } else {
            let b = lock(to.dir()?);
            (lock(from.dir()?), Some(b))
        };
        // `first` is `from`'s entries; `second` is `to`'s unless the same directory.
        let source = match first.entries.get(old) {
            Some(s) if !s.is_whiteout() => s.clone(),
            _ => return Err(Errno::ENOENT),
        };
        let target_entries = match second.as_mut() {
            Some(s) => &mut **s,
            None => &mut *first,
        };
        if target_entries.removed {
            return Err(Errno::ENOENT);
        }
        let target = target_entries
            .entries
            .get(new)
            .filter(|t| !t.is_whiteout())
            .cloned();
        let src_dir = source.ftype == FileType::Directory;
        if let Some(t) = &target {
            if noreplace {
                return Err(Errno::EEXIST);
            }
            if Arc::ptr_eq(t, &source) {
                return Ok(());
            }
            let t_dir = t.ftype == FileType::Directory;
            match (src_dir, t_dir) {
                (true, false) => return Err(Errno::ENOTDIR),
                (false, true) => return Err(Errno::EISDIR),
                _ => {}
            }
            if t_dir {
                t.retire_dir()?;
                to.update_meta(|m| m.nlink = m.nlink.saturating_sub(1));
            } else {
                t.update_meta(|m| m.nlink = m.nlink.saturating_sub(1));
            }
        }
        target_entries.entries.insert(new.to_vec(), source.clone());
        // With one directory, `first` holds both names: remove the old one unless it is the
        // name just written.
        if !(same_dir && old == new) {
            first.entries.remove(old);
        }
        if src_dir && !same_dir {
            from.update_meta(|m| m.nlink = m.nlink.saturating_sub(1));
            to.update_meta(|m| m.nlink += 1);
        }
        drop(second);
        drop(first);
        if let Some(t) = target {
            t.touch_changed();
        }
        source.touch_changed();
        from.touch_modified();
        if !same_dir {
            to.touch_modified();
        }
        Ok(())
    }
}

/// `EISDIR`/`ENOTDIR` when `node` is not of the kind an unlink or rmdir expects.
fn check_kind(node: &TmpNode, dir: bool) -> Result<(), Errno> {
    match (dir, node.ftype == FileType::Directory) {
        (true, false) => Err(Errno::ENOTDIR),
        (false, true) => Err(Errno::EISDIR),
        _ => Ok(()),
    }
}
