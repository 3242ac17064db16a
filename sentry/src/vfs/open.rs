//! `open`/`openat`: resolution with `O_CREAT`, `O_EXCL`, `O_NOFOLLOW`, `O_DIRECTORY`,
//! `O_PATH`, `O_TRUNC`, then a file description.

use std::sync::Arc;

use abi::Errno;
use abi::flags::open::{O_RDONLY, O_RDWR, O_WRONLY};

use super::context::{At, FsContext};
use super::dentry::{child_locked, insert_locked};
use super::dir_file::DirOps;
use super::file::{OpenFile, PathOps};
use super::inode::{NewAttr, NewNode, SetAttr};
use super::mount::Location;
use super::path::{Last, Walker, check_path};
use super::perm::{MAY_EXEC, MAY_READ, MAY_WRITE, may};
use super::stat::{FileType, MODE_PERM_MASK, S_ISGID, now};
use super::{OpenFlags, Vfs};

/// The `O_TMPFILE` bit without the `O_DIRECTORY` it is defined with.
const TMPFILE_BIT: u32 = 0o20000000;

impl Vfs {
    /// `openat(at, path, flags, mode)`. `mode` matters only when a file is created; the
    /// caller's umask is applied to it. The returned description does not hold `O_CLOEXEC`:
    /// pass `flags.contains(OpenFlags::CLOEXEC)` to [`super::FdTable::insert`].
    pub fn open(
        &self,
        ctx: &FsContext,
        at: At<'_>,
        path: &[u8],
        flags: OpenFlags,
        mode: u32,
    ) -> Result<Arc<OpenFile>, Errno> {
        let mut flags = flags;
        if flags.contains(OpenFlags::PATH) {
            // O_PATH ignores everything but these.
            flags &=
                OpenFlags::DIRECTORY | OpenFlags::NOFOLLOW | OpenFlags::PATH | OpenFlags::CLOEXEC;
        } else {
            if flags.bits() & TMPFILE_BIT != 0 {
                return Err(Errno::EOPNOTSUPP);
            }
            if flags.contains(OpenFlags::CREAT | OpenFlags::DIRECTORY) {
                return Err(Errno::EINVAL);
            }
        }
        check_path(path)?;
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        let mut w = Walker::new(self, ctx);
        let start = w.start(at, path)?;
        let (loc, created) = if flags.contains(OpenFlags::CREAT) {
            self.open_create(ctx, &mut w, start, path, flags, mode)?
        } else {
            let follow = !flags.contains(OpenFlags::NOFOLLOW);
            (w.resolve(start, path, follow)?, false)
        };
        self.open_location(ctx, loc, flags, created)
    }

    /// Opens a file already resolved (the last half of `open`; also for reopening a file
    /// through `/proc/self/fd`).
    pub fn open_location(
        &self,
        ctx: &FsContext,
        loc: Location,
        flags: OpenFlags,
        created: bool,
    ) -> Result<Arc<OpenFile>, Errno> {
        let ft = loc.file_type();
        // O_DIRECTORY is checked first: a final symlink under O_NOFOLLOW is ENOTDIR then.
        if flags.contains(OpenFlags::DIRECTORY) && ft != FileType::Directory {
            return Err(Errno::ENOTDIR);
        }
        if ft == FileType::Symlink && !flags.contains(OpenFlags::PATH) {
            return Err(Errno::ELOOP);
        }
        if flags.contains(OpenFlags::PATH) {
            let ops = Box::new(PathOps {
                inode: loc.inode().clone(),
            });
            return Ok(Arc::new(OpenFile::new(Some(loc), flags, ops)));
        }
        let acc = flags.access_mode();
        let mut want = 0;
        if acc == O_RDONLY || acc == O_RDWR || acc == 3 {
            want |= MAY_READ;
        }
        if acc == O_WRONLY || acc == O_RDWR || acc == 3 || flags.contains(OpenFlags::TRUNC) {
            want |= MAY_WRITE;
        }
        if ft == FileType::Directory && want & MAY_WRITE != 0 {
            return Err(Errno::EISDIR);
        }
        // Devices and FIFOs stay writable on a read-only mount: no data of it changes.
        if ft == FileType::Regular && want & MAY_WRITE != 0 {
            loc.want_write()?;
        }
        // The creator may open what it created whatever the new mode says.
        if !created {
            may(&ctx.creds, loc.inode().as_ref(), want)?;
        }
        let ops = if ft == FileType::Directory {
            Box::new(DirOps::new(loc.dentry().clone())?)
        } else {
            loc.inode().clone().open(flags)?
        };
        // After the open, as Linux's handle_truncate, so the file system knows the data is
        // going (the overlay then copies up metadata only).
        if flags.contains(OpenFlags::TRUNC) && ft == FileType::Regular && !created {
            loc.inode().setattr(&SetAttr {
                size: Some(0),
                mtime: Some(now()),
                ..SetAttr::default()
            })?;
        }
        // 64-bit Linux always adds O_LARGEFILE, and F_GETFL shows it.
        let flags = flags | OpenFlags::LARGEFILE;
        Ok(Arc::new(OpenFile::new(Some(loc), flags, ops)))
    }

    /// The `O_CREAT` walk: the last component is created if missing, and followed if it is a
    /// symbolic link (unless `O_EXCL` or `O_NOFOLLOW`). Returns the file and whether it is new.
    fn open_create(
        &self,
        ctx: &FsContext,
        w: &mut Walker<'_>,
        start: Location,
        path: &[u8],
        flags: OpenFlags,
        mode: u32,
    ) -> Result<(Location, bool), Errno> {
        let mut p = w.walk_parent(start, path)?;
        loop {
            let name = match (&p.last, p.trailing) {
                (Last::Name(n), false) => n.clone(),
                // `.`, `..`, `/` and `name/` can only be directories.
                _ => return Err(Errno::EISDIR),
            };
            let dir = p.dir.clone();
            let existing = {
                let mut children = dir.dentry().lock_children();
                match child_locked(dir.dentry(), &mut children, &name, &self.dcache) {
                    Ok(d) => d,
                    Err(e) if e == Errno::ENOENT && !dir.dentry().is_dead() => {
                        dir.want_write()?;
                        may(&ctx.creds, dir.inode().as_ref(), MAY_WRITE | MAY_EXEC)?;
                        let attr =
                            self.new_attr(ctx, &dir, mode & MODE_PERM_MASK & !ctx.umask, false)?;
                        let inode = dir.inode().create(&name, NewNode::File, &attr)?;
                        let d =
                            insert_locked(dir.dentry(), &mut children, &name, inode, &self.dcache);
                        return Ok((Location::new(dir.mount().clone(), d), true));
                    }
                    Err(e) => return Err(e),
                }
            };
            let loc = self
                .mounts
                .cross(Location::new(dir.mount().clone(), existing));
            if flags.contains(OpenFlags::EXCL) {
                return Err(Errno::EEXIST);
            }
            match loc.file_type() {
                FileType::Symlink if flags.contains(OpenFlags::NOFOLLOW) => {
                    return Err(Errno::ELOOP);
                }
                FileType::Symlink => {
                    let (from, target) = w.follow_link(&dir, &loc)?;
                    p = w.walk_parent(from, &target)?;
                }
                FileType::Directory => return Err(Errno::EISDIR),
                _ => return Ok((loc, false)),
            }
        }
    }

    /// Owner and mode of a new node in `dir`: the caller's ids, except that a set-group-id
    /// directory passes on its group (and, to subdirectories, the bit itself).
    pub(crate) fn new_attr(
        &self,
        ctx: &FsContext,
        dir: &Location,
        mode: u32,
        is_dir: bool,
    ) -> Result<NewAttr, Errno> {
        let d = dir.stat()?;
        let mut mode = mode;
        let gid = if d.mode & S_ISGID != 0 {
            if is_dir {
                mode |= S_ISGID;
            }
            d.gid
        } else {
            ctx.creds.gid
        };
        // A set-group-id executable for a group the creator is not in loses the bit.
        if !is_dir
            && mode & (S_ISGID | 0o010) == (S_ISGID | 0o010)
            && !ctx.creds.in_group(gid)
            && !ctx.creds.has_cap(abi::caps::CAP_FSETID)
        {
            mode &= !S_ISGID;
        }
        Ok(NewAttr {
            mode,
            uid: ctx.creds.uid,
            gid,
        })
    }
}
