//! Copy-up: giving a lower file an upper node before its first change.

use std::sync::{Arc, MutexGuard};

use abi::Errno;

use super::Origin;
use super::node::OvNode;
use crate::host::HostNode;
use crate::vfs::lock;
use crate::vfs::stat::{FileType, now};
use crate::vfs::tmpfs::{Body, FileData, Meta, TmpNode};

/// Bytes read from the host per step of a data copy.
const CHUNK: usize = 64 * 1024;

impl OvNode {
    /// The upper node, copying the lower file up first if needed: its parent directories,
    /// then its data and metadata (mode, owner, times), registered under its name unless that
    /// name was removed meanwhile (then the copy stays detached, as the file is unlinked).
    /// The caller holds the overlay lock (`_g`).
    pub(super) fn copy_up(&self, g: &MutexGuard<'_, ()>) -> Result<Arc<TmpNode>, Errno> {
        self.copy_up_with(g, true)
    }

    /// [`OvNode::copy_up`], leaving the data behind unless `with_data` (for `O_TRUNC`).
    pub(super) fn copy_up_with(
        &self,
        g: &MutexGuard<'_, ()>,
        with_data: bool,
    ) -> Result<Arc<TmpNode>, Errno> {
        if let Some(u) = self.upper() {
            return Ok(u.clone());
        }
        let lower = self.lower.clone().ok_or(Errno::EIO)?;
        let link = lock(&self.parent).clone();
        let mut dest = None;
        if let Some((parent, name)) = link
            && let Some(parent) = parent.upgrade()
        {
            let pu = parent.copy_up(g)?;
            if still_named(&parent, &pu, &name, &lower)? {
                dest = Some((pu, name));
            }
        }
        let tmp = self.upper_copy(&lower, with_data)?;
        tmp.set_layer(Arc::new(Origin {
            ino: self.ino,
            lower: Some(lower),
        }));
        if let Some((pu, name)) = dest {
            pu.dir_insert(&name, &tmp, false)?;
        }
        let _ = self.upper.set(tmp.clone());
        Ok(tmp)
    }

    /// A new upper node with the lower file's contents and metadata.
    fn upper_copy(&self, lower: &HostNode, with_data: bool) -> Result<Arc<TmpNode>, Errno> {
        let st = *lower.stat();
        let meta = Meta {
            mode: st.mode,
            uid: st.uid,
            gid: st.gid,
            nlink: 0,
            atime: st.atime,
            mtime: st.mtime,
            ctime: now(),
        };
        let fs = &self.shared.upper;
        Ok(match self.ftype {
            FileType::Regular if with_data => TmpNode::new_file(fs, meta, read_all(lower)?),
            FileType::Regular => TmpNode::new_file(fs, meta, FileData::new()),
            FileType::Directory => TmpNode::new_dir(fs, meta),
            FileType::Symlink => TmpNode::new(fs, meta, Body::Symlink(lower.readlink()?)),
            _ => TmpNode::new(fs, meta, Body::Special { rdev: st.rdev }),
        })
    }
}

/// Whether `name` in `parent` still names `lower`: no upper entry (not even a whiteout) and
/// the same host object below.
fn still_named(
    parent: &OvNode,
    parent_upper: &TmpNode,
    name: &[u8],
    lower: &HostNode,
) -> Result<bool, Errno> {
    if parent_upper.dir_get(name)?.is_some() {
        return Ok(false);
    }
    let Some(pl) = parent.lower.as_ref() else {
        return Ok(false);
    };
    Ok(match pl.lookup(name) {
        Ok(h) => h.stat().dev == lower.stat().dev && h.stat().ino == lower.stat().ino,
        Err(_) => false,
    })
}

/// The whole data of a lower regular file, leaving all-zero stretches as holes.
fn read_all(lower: &HostNode) -> Result<FileData, Errno> {
    let file = lower.open_file()?;
    let mut data = FileData::new();
    let mut buf = vec![0u8; CHUNK];
    let mut off = 0u64;
    loop {
        let n = file.read_full_at(&mut buf, off)?;
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        if chunk.iter().any(|&b| b != 0) {
            data.write_at(chunk, off)?;
        }
        off += n as u64;
        if n < buf.len() {
            break;
        }
    }
    data.set_len(off)?;
    Ok(data)
}
