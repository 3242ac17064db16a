//! Mounts and locations (a dentry seen through a mount).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use abi::Errno;

use super::dentry::Dentry;
use super::inode::{FileSystem, Inode};
use super::stat::{FileStat, FileType, makedev};
use super::{read_lock, write_lock};

static NEXT_MOUNT_ID: AtomicU64 = AtomicU64::new(1);
static NEXT_ANON_MINOR: AtomicU32 = AtomicU32::new(1);

/// A device number for a file system without a backing device (major 0, as Linux gives
/// tmpfs, procfs and overlay instances).
pub fn new_anon_dev() -> u64 {
    makedev(0, NEXT_ANON_MINOR.fetch_add(1, Ordering::Relaxed))
}

/// A file system mounted somewhere in the tree.
pub struct Mount {
    id: u64,
    fs: Arc<dyn FileSystem>,
    root: Arc<Dentry>,
    /// The mount this one sits in and the dentry it covers; `None` for the root mount.
    parent: Option<(Arc<Mount>, Arc<Dentry>)>,
    /// Changes through this mount fail with `EROFS` (`MS_RDONLY`).
    readonly: AtomicBool,
}

impl Mount {
    pub(crate) fn new(
        fs: Arc<dyn FileSystem>,
        parent: Option<(Arc<Mount>, Arc<Dentry>)>,
    ) -> Arc<Mount> {
        let root = Dentry::new_root(fs.root());
        Arc::new(Mount {
            id: NEXT_MOUNT_ID.fetch_add(1, Ordering::Relaxed),
            fs,
            root,
            parent,
            readonly: AtomicBool::new(false),
        })
    }

    /// Makes the mount read-only or read-write (as `mount -o remount,ro` would).
    pub fn set_readonly(&self, readonly: bool) {
        self.readonly.store(readonly, Ordering::Relaxed);
    }

    pub fn is_readonly(&self) -> bool {
        self.readonly.load(Ordering::Relaxed)
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn fs(&self) -> &Arc<dyn FileSystem> {
        &self.fs
    }

    pub fn root(&self) -> &Arc<Dentry> {
        &self.root
    }

    /// The covered location in the parent mount.
    pub fn mountpoint(&self) -> Option<Location> {
        self.parent
            .as_ref()
            .map(|(m, d)| Location::new(m.clone(), d.clone()))
    }
}

/// A place in the tree: a dentry and the mount it is seen through (Linux's `struct path`).
#[derive(Clone)]
pub struct Location {
    mount: Arc<Mount>,
    dentry: Arc<Dentry>,
}

impl Location {
    pub(crate) fn new(mount: Arc<Mount>, dentry: Arc<Dentry>) -> Location {
        Location { mount, dentry }
    }

    /// The root of a mount.
    pub(crate) fn mount_root(mount: &Arc<Mount>) -> Location {
        Location::new(mount.clone(), mount.root.clone())
    }

    pub fn mount(&self) -> &Arc<Mount> {
        &self.mount
    }

    pub fn dentry(&self) -> &Arc<Dentry> {
        &self.dentry
    }

    pub fn inode(&self) -> &Arc<dyn Inode> {
        self.dentry.inode()
    }

    pub fn file_type(&self) -> FileType {
        self.dentry.file_type()
    }

    pub fn is_dir(&self) -> bool {
        self.file_type() == FileType::Directory
    }

    pub fn stat(&self) -> Result<FileStat, Errno> {
        self.inode().stat()
    }

    /// `EROFS` if the mount is read-only: called before any change through this location
    /// (Linux's `mnt_want_write`).
    pub fn want_write(&self) -> Result<(), Errno> {
        if self.mount.is_readonly() {
            Err(Errno::EROFS)
        } else {
            Ok(())
        }
    }

    /// Whether this is the root of its mount.
    pub fn is_mount_root(&self) -> bool {
        Arc::ptr_eq(&self.dentry, &self.mount.root)
    }

    /// Whether both name the same dentry through the same mount.
    pub fn same(&self, other: &Location) -> bool {
        Arc::ptr_eq(&self.mount, &other.mount) && Arc::ptr_eq(&self.dentry, &other.dentry)
    }
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Location(mount {}, {:?})",
            self.mount.id,
            String::from_utf8_lossy(&self.dentry.name())
        )
    }
}

/// Every mount but the root one, by the location it covers.
#[derive(Default)]
pub(crate) struct MountTable {
    by_point: RwLock<HashMap<(u64, u64), Arc<Mount>>>,
}

impl MountTable {
    /// Mounts `fs` on `at` (which the caller resolved through any mounts already there, so a
    /// new mount stacks on top).
    pub(crate) fn mount(
        &self,
        at: &Location,
        fs: Arc<dyn FileSystem>,
    ) -> Result<Arc<Mount>, Errno> {
        let key = (at.mount.id, at.dentry.id());
        let mut table = write_lock(&self.by_point);
        if table.contains_key(&key) {
            return Err(Errno::EBUSY);
        }
        let m = Mount::new(fs, Some((at.mount.clone(), at.dentry.clone())));
        at.dentry.add_mount();
        table.insert(key, m.clone());
        Ok(m)
    }

    /// Follows mounts down from `loc` to the topmost one covering it.
    pub(crate) fn cross(&self, mut loc: Location) -> Location {
        while loc.dentry.is_mountpoint() {
            let key = (loc.mount.id, loc.dentry.id());
            let Some(m) = read_lock(&self.by_point).get(&key).cloned() else {
                break;
            };
            loc = Location::mount_root(&m);
        }
        loc
    }

    /// All mounts, for the dentry cache sweep.
    pub(crate) fn all(&self) -> Vec<Arc<Mount>> {
        read_lock(&self.by_point).values().cloned().collect()
    }
}
