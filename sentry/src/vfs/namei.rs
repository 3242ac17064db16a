//! Operations that change names: `mkdirat`, `symlinkat`, `linkat`, `unlinkat`, `renameat2`.

use std::sync::Arc;

use abi::Errno;
use abi::flags::at::{AT_EMPTY_PATH, AT_REMOVEDIR, AT_SYMLINK_FOLLOW};

use super::context::{At, FsContext};
use super::dentry::{Children, Dentry, child_locked, insert_locked, remove_locked};
use super::inode::{Inode, NewNode};
use super::mount::Location;
use super::path::{Last, PATH_MAX, Parent, Walker, check_path};
use super::perm::{MAY_EXEC, MAY_WRITE, check_sticky, may};
use super::stat::{FileType, S_ISVTX};
use super::{RENAME_EXCHANGE, RENAME_NOREPLACE, RENAME_WHITEOUT, Vfs, lock};

impl Vfs {
    /// `mkdirat`: permission bits and the sticky bit of `mode`, less the umask.
    pub fn mkdir(&self, ctx: &FsContext, at: At<'_>, path: &[u8], mode: u32) -> Result<(), Errno> {
        let p = self.walk_parent(ctx, at, path)?;
        let mode = mode & (0o777 | S_ISVTX) & !ctx.umask;
        self.create_at(ctx, &p, true, |dir, name| {
            let attr = self.new_attr(ctx, dir, mode, true)?;
            dir.inode().create(name, NewNode::Directory, &attr)
        })
    }

    /// `symlinkat(target, at, path)`. The target is stored as given, never resolved here.
    pub fn symlink(
        &self,
        ctx: &FsContext,
        target: &[u8],
        at: At<'_>,
        path: &[u8],
    ) -> Result<(), Errno> {
        if target.is_empty() {
            return Err(Errno::ENOENT);
        }
        if target.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        if target.contains(&0) {
            return Err(Errno::EINVAL);
        }
        let p = self.walk_parent(ctx, at, path)?;
        self.create_at(ctx, &p, false, |dir, name| {
            let attr = self.new_attr(ctx, dir, 0o777, false)?;
            dir.inode().create(name, NewNode::Symlink(target), &attr)
        })
    }

    /// `linkat`: a new name for an existing non-directory (`EPERM` for a directory, `EXDEV`
    /// across mounts). Flags: `AT_SYMLINK_FOLLOW`, `AT_EMPTY_PATH`.
    pub fn link(
        &self,
        ctx: &FsContext,
        old_at: At<'_>,
        old: &[u8],
        new_at: At<'_>,
        new: &[u8],
        flags: u32,
    ) -> Result<(), Errno> {
        if flags & !(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH) != 0 {
            return Err(Errno::EINVAL);
        }
        let src = if old.is_empty() && flags & AT_EMPTY_PATH != 0 {
            match old_at {
                At::Cwd => ctx.cwd.clone(),
                At::Dir(l) => l.clone(),
                At::File(f) => f.location().cloned().ok_or(Errno::ENOENT)?,
            }
        } else {
            let mut w = Walker::new(self, ctx);
            let start = w.start(old_at, old)?;
            w.resolve(start, old, flags & AT_SYMLINK_FOLLOW != 0)?
        };
        if src.is_dir() {
            return Err(Errno::EPERM);
        }
        let p = self.walk_parent(ctx, new_at, new)?;
        self.create_at(ctx, &p, false, |dir, name| {
            if !Arc::ptr_eq(dir.mount(), src.mount()) {
                return Err(Errno::EXDEV);
            }
            dir.inode().link(name, src.inode())?;
            Ok(src.inode().clone())
        })
    }

    /// `unlinkat`: removes a non-directory, or with `AT_REMOVEDIR` an empty directory.
    pub fn unlink(
        &self,
        ctx: &FsContext,
        at: At<'_>,
        path: &[u8],
        flags: u32,
    ) -> Result<(), Errno> {
        if flags & !AT_REMOVEDIR != 0 {
            return Err(Errno::EINVAL);
        }
        let rmdir = flags & AT_REMOVEDIR != 0;
        let p = self.walk_parent(ctx, at, path)?;
        let name = match (&p.last, rmdir) {
            (Last::Name(n), _) => n,
            (Last::Dot, true) => return Err(Errno::EINVAL),
            (Last::DotDot, true) => return Err(Errno::ENOTEMPTY),
            (Last::Root, true) => return Err(Errno::EBUSY),
            (_, false) => return Err(Errno::EISDIR),
        };
        let dir = &p.dir;
        let mut children = dir.dentry().lock_children();
        let victim = child_locked(dir.dentry(), &mut children, name, &self.dcache)?;
        let is_dir = victim.file_type() == FileType::Directory;
        if rmdir && !is_dir {
            return Err(Errno::ENOTDIR);
        }
        if !rmdir && (is_dir || p.trailing) {
            return Err(if is_dir {
                Errno::EISDIR
            } else {
                Errno::ENOTDIR
            });
        }
        if victim.is_mountpoint() {
            return Err(Errno::EBUSY);
        }
        dir.want_write()?;
        may(&ctx.creds, dir.inode().as_ref(), MAY_WRITE | MAY_EXEC)?;
        check_sticky(&ctx.creds, dir.inode().as_ref(), victim.inode().as_ref())?;
        dir.inode().unlink(name, rmdir)?;
        remove_locked(&mut children, name, &self.dcache);
        Ok(())
    }

    /// `renameat2` with flags 0 or `RENAME_NOREPLACE`.
    pub fn rename(
        &self,
        ctx: &FsContext,
        old_at: At<'_>,
        old: &[u8],
        new_at: At<'_>,
        new: &[u8],
        flags: u32,
    ) -> Result<(), Errno> {
        let known = RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT;
        if flags & !known != 0 || flags & RENAME_NOREPLACE != 0 && flags & RENAME_EXCHANGE != 0 {
            return Err(Errno::EINVAL);
        }
        if flags & (RENAME_EXCHANGE | RENAME_WHITEOUT) != 0 {
            return Err(Errno::EINVAL);
        }
        let noreplace = flags & RENAME_NOREPLACE != 0;
        let op = self.walk_parent(ctx, old_at, old)?;
        let np = self.walk_parent(ctx, new_at, new)?;
        if !Arc::ptr_eq(op.dir.mount(), np.dir.mount()) {
            return Err(Errno::EXDEV);
        }
        let Last::Name(oname) = &op.last else {
            return Err(Errno::EBUSY);
        };
        let Last::Name(nname) = &np.last else {
            return Err(if noreplace {
                Errno::EEXIST
            } else {
                Errno::EBUSY
            });
        };
        op.dir.want_write()?;
        let _rename = lock(&self.rename_lock);
        let (od, nd) = (op.dir.dentry(), np.dir.dentry());
        let mut pair = if Arc::ptr_eq(od, nd) {
            Pair {
                old: od.lock_children(),
                new: None,
            }
        } else if od.id() < nd.id() {
            let old = od.lock_children();
            Pair {
                old,
                new: Some(nd.lock_children()),
            }
        } else {
            let new = nd.lock_children();
            Pair {
                old: od.lock_children(),
                new: Some(new),
            }
        };
        let source = child_locked(od, pair.old_dir(), oname, &self.dcache)?;
        let src_dir = source.file_type() == FileType::Directory;
        if !src_dir && (op.trailing || np.trailing) {
            return Err(Errno::ENOTDIR);
        }
        let target = match child_locked(nd, pair.new_dir(), nname, &self.dcache) {
            Ok(t) => Some(t),
            Err(e) if e == Errno::ENOENT => None,
            Err(e) => return Err(e),
        };
        if target.is_some() && noreplace {
            return Err(Errno::EEXIST);
        }
        if source.is_mountpoint() || target.as_ref().is_some_and(|t| t.is_mountpoint()) {
            return Err(Errno::EBUSY);
        }
        // A directory cannot move into itself, and the target cannot contain the source.
        if src_dir && source.is_ancestor_of(nd) {
            return Err(Errno::EINVAL);
        }
        if let Some(t) = &target {
            if t.is_ancestor_of(od) {
                return Err(Errno::ENOTEMPTY);
            }
            if same_file(&source, t)? {
                return Ok(());
            }
            match (src_dir, t.file_type() == FileType::Directory) {
                (true, false) => return Err(Errno::ENOTDIR),
                (false, true) => return Err(Errno::EISDIR),
                _ => {}
            }
        }
        may(&ctx.creds, op.dir.inode().as_ref(), MAY_WRITE | MAY_EXEC)?;
        may(&ctx.creds, np.dir.inode().as_ref(), MAY_WRITE | MAY_EXEC)?;
        check_sticky(&ctx.creds, op.dir.inode().as_ref(), source.inode().as_ref())?;
        if let Some(t) = &target {
            check_sticky(&ctx.creds, np.dir.inode().as_ref(), t.inode().as_ref())?;
        }
        op.dir
            .inode()
            .rename(oname, np.dir.inode(), nname, noreplace)?;
        remove_locked(pair.new_dir(), nname, &self.dcache);
        if let Some(d) = pair.old_dir().remove(oname.as_slice()) {
            d.relink(nd, nname);
            pair.new_dir().insert(nname.clone(), d);
        }
        Ok(())
    }

    /// Resolves `path` up to its last component.
    pub(crate) fn walk_parent(
        &self,
        ctx: &FsContext,
        at: At<'_>,
        path: &[u8],
    ) -> Result<Parent, Errno> {
        check_path(path)?;
        let mut w = Walker::new(self, ctx);
        let start = w.start(at, path)?;
        w.walk_parent(start, path)
    }

    /// Creates the last component of `p` with `make` unless it exists (`EEXIST`), holding the
    /// directory's dentry lock so the check and the creation are one step. A trailing slash
    /// is only allowed when creating a directory (`ENOENT` otherwise, as Linux).
    fn create_at(
        &self,
        ctx: &FsContext,
        p: &Parent,
        want_dir: bool,
        make: impl FnOnce(&Location, &[u8]) -> Result<Arc<dyn Inode>, Errno>,
    ) -> Result<(), Errno> {
        let Last::Name(name) = &p.last else {
            return Err(Errno::EEXIST);
        };
        let dir = &p.dir;
        let mut children = dir.dentry().lock_children();
        match child_locked(dir.dentry(), &mut children, name, &self.dcache) {
            Ok(_) => return Err(Errno::EEXIST),
            Err(e) if e == Errno::ENOENT => {}
            Err(e) => return Err(e),
        }
        if (p.trailing && !want_dir) || dir.dentry().is_dead() {
            return Err(Errno::ENOENT);
        }
        dir.want_write()?;
        may(&ctx.creds, dir.inode().as_ref(), MAY_WRITE | MAY_EXEC)?;
        let inode = make(dir, name)?;
        insert_locked(dir.dentry(), &mut children, name, inode, &self.dcache);
        Ok(())
    }
}

/// The children locks a rename holds: of the old directory, and of the new one if different.
struct Pair<'a> {
    old: Children<'a>,
    new: Option<Children<'a>>,
}

impl<'a> Pair<'a> {
    fn old_dir(&mut self) -> &mut Children<'a> {
        &mut self.old
    }

    fn new_dir(&mut self) -> &mut Children<'a> {
        match &mut self.new {
            Some(n) => n,
            None => &mut self.old,
        }
    }
}

/// Whether two dentries name the same inode (hard links, or the same name twice).
fn same_file(a: &Arc<Dentry>, b: &Arc<Dentry>) -> Result<bool, Errno> {
    if Arc::ptr_eq(a, b) || Arc::ptr_eq(a.inode(), b.inode()) {
        return Ok(true);
    }
    let (sa, sb) = (a.inode().stat()?, b.inode().stat()?);
    Ok(sa.dev == sb.dev && sa.ino == sb.ino)
}
