//! Directory operations of the overlay: merged listings, creation, links, removal with
//! whiteouts, renames.

use std::collections::HashSet;
use std::sync::Arc;

use abi::Errno;

use super::Origin;
use super::node::OvNode;
use crate::vfs::inode::{DirEntry, Inode, NewAttr, NewNode, downcast};
use crate::vfs::lock;
use crate::vfs::stat::FileType;
use crate::vfs::tmpfs::TmpNode;

impl OvNode {
    /// The union of the upper and lower entries, minus whiteouts.
    pub(super) fn merged_entries(&self) -> Result<Vec<DirEntry>, Errno> {
        if self.ftype != FileType::Directory {
            return Err(Errno::ENOTDIR);
        }
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        if let Some(up) = self.upper() {
            for (name, n) in up.dir_entries()? {
                if !n.is_whiteout() {
                    out.push(DirEntry {
                        name: name.clone(),
                        ino: n.layer::<Origin>().map_or(n.ino(), |o| o.ino),
                        file_type: Some(n.file_type()),
                    });
                }
                seen.insert(name);
            }
        }
        if let Some(l) = self.lower.as_ref().filter(|_| self.merges()) {
            let dev = l.stat().dev;
            for e in l.read_dir()? {
                if !seen.contains(&e.name) {
                    out.push(DirEntry {
                        ino: self.shared.map_ino(dev, e.ino),
                        file_type: FileType::from_dirent_type(e.d_type),
                        name: e.name,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Whether this directory shows no entries.
    fn is_empty_merged(&self) -> Result<bool, Errno> {
        if let Some(up) = self.upper()
            && !up.dir_is_empty()?
        {
            return Ok(false);
        }
        if let Some(l) = self.lower.as_ref().filter(|_| self.merges()) {
            for e in l.read_dir()? {
                let hidden = match self.upper() {
                    Some(up) => up.dir_get(&e.name)?.is_some_and(|n| n.is_whiteout()),
                    None => false,
                };
                if !hidden {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// `EEXIST` unless `name` is free in the merged view (a whiteout counts as free).
    fn check_free(&self, name: &[u8]) -> Result<(), Errno> {
        match self.lookup_node(name) {
            Ok(_) => Err(Errno::EEXIST),
            Err(e) if e == Errno::ENOENT => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `other` as a node of this overlay (`EXDEV` otherwise).
    fn same_overlay(&self, other: &Arc<dyn Inode>) -> Result<Arc<OvNode>, Errno> {
        let node = downcast::<OvNode>(other).ok_or(Errno::EXDEV)?;
        if !Arc::ptr_eq(&node.shared, &self.shared) {
            return Err(Errno::EXDEV);
        }
        Ok(node)
    }

    pub(super) fn create_node(
        &self,
        name: &[u8],
        node: NewNode<'_>,
        attr: &NewAttr,
    ) -> Result<Arc<OvNode>, Errno> {
        let g = lock(&self.shared.lock);
        self.check_free(name)?;
        let up = self.copy_up(&g)?;
        let child = up.make(node, attr);
        child.set_layer(Arc::new(Origin {
            ino: self.shared.alloc_ino(),
            lower: None,
        }));
        up.dir_insert(name, &child, true)?;
        Ok(OvNode::for_upper(self, name, child))
    }

    pub(super) fn link_node(&self, name: &[u8], target: &Arc<dyn Inode>) -> Result<(), Errno> {
        let target = self.same_overlay(target)?;
        if target.ftype == FileType::Directory {
            return Err(Errno::EPERM);
        }
        let g = lock(&self.shared.lock);
        self.check_free(name)?;
        let tu = target.copy_up(&g)?;
        if tu.meta().nlink == 0 {
            return Err(Errno::ENOENT);
        }
        let up = self.copy_up(&g)?;
        up.dir_insert(name, &tu, true)
    }

    pub(super) fn unlink_node(&self, name: &[u8], dir: bool) -> Result<(), Errno> {
        let g = lock(&self.shared.lock);
        let victim = self.lookup_node(name)?;
        match (dir, victim.ftype == FileType::Directory) {
            (true, false) => return Err(Errno::ENOTDIR),
            (false, true) => return Err(Errno::EISDIR),
            _ => {}
        }
        if dir && !victim.is_empty_merged()? {
            return Err(Errno::ENOTEMPTY);
        }
        let hide = self.lower_has(name);
        let up = self.copy_up(&g)?;
        if up.dir_get(name)?.is_some_and(|n| !n.is_whiteout()) {
            up.dir_remove(name, dir)?;
        }
        if hide {
            up.dir_put_whiteout(name)?;
        }
        Ok(())
    }

    pub(super) fn rename_node(
        &self,
        old: &[u8],
        new_dir: &Arc<dyn Inode>,
        new: &[u8],
        noreplace: bool,
    ) -> Result<(), Errno> {
        let to = self.same_overlay(new_dir)?;
        let g = lock(&self.shared.lock);
        let src = self.lookup_node(old)?;
        let target = match to.lookup_node(new) {
            Ok(t) => Some(t),
            Err(e) if e == Errno::ENOENT => None,
            Err(e) => return Err(e),
        };
        if let Some(t) = &target {
            if noreplace {
                return Err(Errno::EEXIST);
            }
            if Arc::ptr_eq(t, &src) {
                return Ok(());
            }
            match (
                src.ftype == FileType::Directory,
                t.ftype == FileType::Directory,
            ) {
                (true, false) => return Err(Errno::ENOTDIR),
                (false, true) => return Err(Errno::EISDIR),
                (true, true) if !t.is_empty_merged()? => return Err(Errno::ENOTEMPTY),
                _ => {}
            }
        }
        let hide_old = self.lower_has(old);
        // A directory with lower contents moves as its upper directory, which keeps merging
        // the lower one it came from through the host handle in its origin record (what
        // overlayfs calls redirect_dir), so the move costs no copying.
        let src_up = src.copy_up(&g)?;
        let from_up = self.copy_up(&g)?;
        let to_up = to.copy_up(&g)?;
        // A hard-linked lower file may have been copied up under its other name.
        if from_up
            .dir_get(old)?
            .is_none_or(|n| !Arc::ptr_eq(&n, &src_up))
        {
            from_up.dir_insert(old, &src_up, true)?;
        }
        // A target only in the lower layer is hidden by the new upper entry; an upper one
        // (file, empty directory or whiteout) is replaced.
        TmpNode::rename(&from_up, old, &to_up, new, false)?;
        if hide_old {
            from_up.dir_put_whiteout(old)?;
        }
        *lock(&src.parent) = Some((to.this.clone(), new.to_vec()));
        Ok(())
    }
}
