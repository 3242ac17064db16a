//! Dentries: the names of inodes, cached as a tree.
//!
//! A dentry owns its cached children and points weakly at its parent, so the tree is freed
//! with its mount and nothing keeps a removed subtree alive but its users. The cache keeps
//! every name looked up until it grows past a limit; then unused leaves are dropped (a host
//! object behind an overlay dentry holds a host descriptor, so the cache must stay bounded).
//!
//! Lock order: a directory's `children` before any dentry's `link`; two `children` locks are
//! only taken together under the VFS rename lock, parent before child or by id.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use abi::Errno;

use super::inode::Inode;
use super::lock;
use super::stat::FileType;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A name of an inode in the tree.
pub struct Dentry {
    id: u64,
    inode: Arc<dyn Inode>,
    link: Mutex<Link>,
    children: Mutex<HashMap<Vec<u8>, Arc<Dentry>>>,
    /// Set once the name is gone (unlinked, or replaced by a rename).
    dead: AtomicBool,
    /// Number of mounts on this dentry; mount points are looked up only where non-zero.
    mounts: AtomicUsize,
}

struct Link {
    parent: Weak<Dentry>,
    name: Vec<u8>,
}

/// The children map of a directory dentry, locked.
pub(crate) type Children<'a> = MutexGuard<'a, HashMap<Vec<u8>, Arc<Dentry>>>;

impl Dentry {
    /// A dentry without a parent: the root of a file system.
    pub(crate) fn new_root(inode: Arc<dyn Inode>) -> Arc<Dentry> {
        Self::new(Weak::new(), Vec::new(), inode)
    }

    fn new(parent: Weak<Dentry>, name: Vec<u8>, inode: Arc<dyn Inode>) -> Arc<Dentry> {
        Arc::new(Dentry {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            inode,
            link: Mutex::new(Link { parent, name }),
            children: Mutex::new(HashMap::new()),
            dead: AtomicBool::new(false),
            mounts: AtomicUsize::new(0),
        })
    }

    /// A unique id, for identity and lock ordering.
    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn inode(&self) -> &Arc<dyn Inode> {
        &self.inode
    }

    pub fn file_type(&self) -> FileType {
        self.inode.file_type()
    }

    /// The name in its parent (empty for a root).
    pub fn name(&self) -> Vec<u8> {
        lock(&self.link).name.clone()
    }

    /// The parent, or `None` for a root or a dentry whose parent is gone.
    pub fn parent(&self) -> Option<Arc<Dentry>> {
        lock(&self.link).parent.upgrade()
    }

    /// Whether the name was removed.
    pub fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Acquire)
    }

    pub(crate) fn mark_dead(&self) {
        self.dead.store(true, Ordering::Release);
    }

    pub(crate) fn is_mountpoint(&self) -> bool {
        self.mounts.load(Ordering::Acquire) > 0
    }

    pub(crate) fn add_mount(&self) {
        self.mounts.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn lock_children(&self) -> Children<'_> {
        lock(&self.children)
    }

    /// Moves this dentry under `parent` as `name` (after a rename).
    pub(crate) fn relink(&self, parent: &Arc<Dentry>, name: &[u8]) {
        let mut l = lock(&self.link);
        l.parent = Arc::downgrade(parent);
        l.name = name.to_vec();
    }

    /// Whether `self` is `other` or one of its ancestors (within one file system).
    pub(crate) fn is_ancestor_of(self: &Arc<Dentry>, other: &Arc<Dentry>) -> bool {
        let mut cur = Some(other.clone());
        while let Some(d) = cur {
            if Arc::ptr_eq(&d, self) {
                return true;
            }
            cur = d.parent();
        }
        false
    }
}

/// The child `name` of `dir`, from the cache or else looked up and cached. Caller holds
/// `children`, the locked children of `dir`.
pub(crate) fn child_locked(
    dir: &Arc<Dentry>,
    children: &mut Children<'_>,
    name: &[u8],
    cache: &DentryCache,
) -> Result<Arc<Dentry>, Errno> {
    if let Some(d) = children.get(name) {
        return Ok(d.clone());
    }
    if dir.is_dead() {
        return Err(Errno::ENOENT);
    }
    let inode = dir.inode.lookup(name)?;
    Ok(insert_locked(dir, children, name, inode, cache))
}

/// Caches a new child dentry for `inode` as `name` (caller holds `children` of `dir`).
pub(crate) fn insert_locked(
    dir: &Arc<Dentry>,
    children: &mut Children<'_>,
    name: &[u8],
    inode: Arc<dyn Inode>,
    cache: &DentryCache,
) -> Arc<Dentry> {
    let d = Dentry::new(Arc::downgrade(dir), name.to_vec(), inode);
    if children.insert(name.to_vec(), d.clone()).is_none() {
        cache.count.fetch_add(1, Ordering::Relaxed);
    }
    d
}

/// Drops `name` from the cached children (caller holds them) and marks it dead.
pub(crate) fn remove_locked(children: &mut Children<'_>, name: &[u8], cache: &DentryCache) {
    if let Some(d) = children.remove(name) {
        d.mark_dead();
        cache.count.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Bookkeeping of the cache size.
pub(crate) struct DentryCache {
    count: AtomicUsize,
    /// The configured limit.
    base: AtomicUsize,
    /// The limit now: raised after a sweep that could not get under `base` (everything in
    /// use), so that lookups do not sweep the whole tree each time.
    limit: AtomicUsize,
}

impl DentryCache {
    pub(crate) fn new(limit: usize) -> DentryCache {
        DentryCache {
            count: AtomicUsize::new(0),
            base: AtomicUsize::new(limit),
            limit: AtomicUsize::new(limit),
        }
    }

    pub(crate) fn set_limit(&self, limit: usize) {
        let limit = limit.max(16);
        self.base.store(limit, Ordering::Relaxed);
        self.limit.store(limit, Ordering::Relaxed);
    }

    pub(crate) fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    pub(crate) fn over_limit(&self) -> bool {
        self.len() > self.limit.load(Ordering::Relaxed)
    }

    /// Drops every cached dentry under `roots` that nothing uses: not referenced outside the
    /// cache, without cached children, not a mount point. Children go before their parents, so
    /// an unused chain goes in one sweep. Iterative: trees may be deeper than the stack.
    /// The caller holds the VFS rename lock, so no dentry moves meanwhile.
    pub(crate) fn sweep(&self, roots: &[Arc<Dentry>]) {
        let mut order: Vec<Arc<Dentry>> = Vec::new();
        let mut stack: Vec<Arc<Dentry>> = roots.to_vec();
        while let Some(d) = stack.pop() {
            stack.extend(d.lock_children().values().cloned());
            order.push(d);
        }
        // `order` lists parents before children; release our references child-first.
        while let Some(d) = order.pop() {
            let Some(parent) = d.parent() else { continue };
            let name = d.name();
            let mut siblings = parent.lock_children();
            let ours = siblings.get(&name).is_some_and(|c| Arc::ptr_eq(c, &d));
            // References now: the parent's map and `d`. Anyone else would need the map (which
            // we hold locked) or an existing reference to make another.
            if ours
                && Arc::strong_count(&d) == 2
                && !d.is_mountpoint()
                && d.lock_children().is_empty()
            {
                siblings.remove(&name);
                self.count.fetch_sub(1, Ordering::Relaxed);
            }
        }
        let base = self.base.load(Ordering::Relaxed);
        self.limit
            .store(base.max(self.len().saturating_mul(2)), Ordering::Relaxed);
    }
}
