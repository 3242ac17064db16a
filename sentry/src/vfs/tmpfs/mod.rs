//! tmpfs: a file system that lives entirely in memory (`/tmp`, `/dev`, and the overlay's
//! upper layer).

mod data;
mod file;
mod inode;
mod node;

use std::sync::Arc;

pub use data::FileData;
pub(crate) use file::{mem_pwrite, mem_read, mem_seek, mem_write};
pub use node::TmpNode;
pub(crate) use node::{Body, Meta, TmpShared};

use super::inode::{FileSystem, Inode};
use super::mount::new_anon_dev;
use super::stat::S_IFDIR;

/// A tmpfs instance.
pub struct Tmpfs {
    shared: Arc<TmpShared>,
    root: Arc<TmpNode>,
}

impl Tmpfs {
    /// An empty tmpfs whose root has permission bits `mode` (e.g. `0o1777` for `/tmp`) and
    /// belongs to root.
    pub fn new(mode: u32) -> Arc<Tmpfs> {
        let shared = TmpShared::new(new_anon_dev());
        let root = TmpNode::new_dir(&shared, Meta::new(S_IFDIR | (mode & 0o7777), 0, 0));
        root.update_meta(|m| m.nlink = 2);
        Arc::new(Tmpfs { shared, root })
    }

    /// The root directory node.
    pub fn root_node(&self) -> &Arc<TmpNode> {
        &self.root
    }

    pub(crate) fn shared(&self) -> &Arc<TmpShared> {
        &self.shared
    }
}

impl FileSystem for Tmpfs {
    fn name(&self) -> &str {
        "tmpfs"
    }

    fn root(&self) -> Arc<dyn Inode> {
        self.root.clone()
    }
}
