//! overlay: the sandbox root. The lower layer is the host tree, read through
//! [`crate::host`] and never written; the upper layer is in memory (tmpfs nodes) and is
//! dropped with the sandbox.
//!
//! As in Linux's overlayfs: a lower file is copied up (data and metadata) before its first
//! change (open for writing, truncate, chmod, chown, utimes, link, rename); removing a name
//! that exists in the lower layer leaves a whiteout in the upper directory; a directory that
//! exists in both layers lists the union minus whiteouts; an upper directory created over a
//! removed lower one does not merge (it is opaque). A renamed directory keeps merging the
//! lower directory it came from (overlayfs's `redirect_dir`), found through the host handle
//! kept in its upper node's origin record rather than by path, so renames never copy trees
//! and never return `EXDEV`.
//!
//! The lower tree is assumed not to change while the sandbox runs (overlayfs makes the same
//! assumption); host metadata is read once per lookup.
//!
//! Inode numbers: a file keeps the host's inode number (with the host device folded into the
//! high bits when the host tree spans several file systems), also after copy-up; files
//! created in the sandbox get numbers with the top bit set. All report the overlay's device.

mod copy_up;
mod dir;
mod file;
mod node;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use abi::Errno;

use crate::host::HostNode;

pub use node::OvNode;

use super::inode::{FileSystem, Inode};
use super::lock;
use super::mount::new_anon_dev;
use super::tmpfs::TmpShared;

/// What the overlay records on each of its upper nodes (in the tmpfs node's layer slot).
pub(crate) struct Origin {
    /// The overlay inode number.
    pub(crate) ino: u64,
    /// The lower object this node was copied from, if any. A directory with one merges it.
    pub(crate) lower: Option<Arc<HostNode>>,
}

/// Identity of an overlay node, to keep one [`OvNode`] per file while it is in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum NodeKey {
    /// Host device and inode of the lower object.
    Lower(u64, u64),
    /// tmpfs inode number of a node created in the sandbox.
    Upper(u64),
}

/// State shared by the nodes of one overlay.
pub(crate) struct OvShared {
    dev: u64,
    /// Where upper nodes come from.
    upper: Arc<TmpShared>,
    /// Host devices met so far; the index is folded into inode numbers.
    host_devs: Mutex<Vec<u64>>,
    next_ino: AtomicU64,
    /// Serialises namespace changes and copy-ups of the whole overlay.
    lock: Mutex<()>,
    nodes: Mutex<NodeCache>,
}

#[derive(Default)]
struct NodeCache {
    map: HashMap<NodeKey, Weak<OvNode>>,
    /// Size after the last pruning of dead entries.
    pruned_len: usize,
}

impl OvShared {
    /// The overlay inode number of a host object.
    fn map_ino(&self, dev: u64, ino: u64) -> u64 {
        let mut devs = lock(&self.host_devs);
        let index = match devs.iter().position(|&d| d == dev) {
            Some(i) => i,
            None => {
                devs.push(dev);
                devs.len() - 1
            }
        };
        ino ^ ((index as u64 & 0x7f) << 56)
    }

    /// A fresh inode number for a node created in the sandbox.
    fn alloc_ino(&self) -> u64 {
        (1 << 63) | self.next_ino.fetch_add(1, Ordering::Relaxed)
    }

    /// The live node for `key`, or the one `make` builds.
    fn node(&self, key: NodeKey, make: impl FnOnce() -> Arc<OvNode>) -> Arc<OvNode> {
        let mut cache = lock(&self.nodes);
        if let Some(n) = cache.map.get(&key).and_then(Weak::upgrade) {
            return n;
        }
        let n = make();
        cache.map.insert(key, Arc::downgrade(&n));
        if cache.map.len() > 2 * cache.pruned_len.max(512) {
            cache.map.retain(|_, w| w.strong_count() > 0);
            cache.pruned_len = cache.map.len();
        }
        n
    }
}

/// An overlay of an in-memory upper layer on a host directory.
pub struct OverlayFs {
    root: Arc<OvNode>,
}

impl OverlayFs {
    /// An overlay whose lower layer is the host directory `lower`.
    pub fn new(lower: HostNode) -> Result<Arc<OverlayFs>, Errno> {
        let shared = Arc::new(OvShared {
            dev: new_anon_dev(),
            upper: TmpShared::new(0),
            host_devs: Mutex::new(Vec::new()),
            next_ino: AtomicU64::new(1),
            lock: Mutex::new(()),
            nodes: Mutex::new(NodeCache::default()),
        });
        let root = OvNode::new_root(&shared, Arc::new(lower))?;
        Ok(Arc::new(OverlayFs { root }))
    }
}

impl FileSystem for OverlayFs {
    fn name(&self) -> &str {
        "overlay"
    }

    fn root(&self) -> Arc<dyn Inode> {
        self.root.clone()
    }
}
