//! Operations on the metadata of a named file: `stat`, `readlinkat`, `truncate`,
//! `faccessat`, `fchmodat`, `fchownat`, `utimensat`.

use abi::flags::at::{
    AT_EACCESS, AT_EMPTY_PATH, AT_NO_AUTOMOUNT, AT_STATX_SYNC_TYPE, AT_SYMLINK_NOFOLLOW,
};
use abi::time::{UTIME_NOW, UTIME_OMIT};
use abi::{Errno, Timespec};

use super::Vfs;
use super::context::{At, FsContext};
use super::file::OpenFile;
use super::inode::SetAttr;
use super::mount::Location;
use super::path::{Walker, check_path};
use super::perm::{MAY_WRITE, check_access};
use super::stat::{FileStat, FileType, MODE_PERM_MASK, S_ISGID, S_ISUID, now};

/// What a `*at` call names: a location, or (with `AT_EMPTY_PATH`) an open file outside
/// the tree.
enum Target<'f> {
    Loc(Location),
    File(&'f OpenFile),
}

impl Target<'_> {
    fn stat(&self) -> Result<FileStat, Errno> {
        match self {
            Target::Loc(l) => l.stat(),
            Target::File(f) => f.stat(),
        }
    }
}

impl Vfs {
    /// `fstatat`/`statx` metadata. Flags: `AT_SYMLINK_NOFOLLOW`, `AT_EMPTY_PATH`,
    /// `AT_NO_AUTOMOUNT` and the statx sync bits (no-ops here).
    pub fn stat(
        &self,
        ctx: &FsContext,
        at: At<'_>,
        path: &[u8],
        flags: u32,
    ) -> Result<FileStat, Errno> {
        if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE)
            != 0
        {
            return Err(Errno::EINVAL);
        }
        self.target(ctx, at, path, flags)?.stat()
    }

    /// `readlinkat`: the whole target (the caller truncates to its buffer). `EINVAL` if the
    /// file is not a symbolic link; with an empty path, `at` itself (`ENOENT` if it is not one).
    pub fn readlink(&self, ctx: &FsContext, at: At<'_>, path: &[u8]) -> Result<Vec<u8>, Errno> {
        let empty = path.is_empty();
        let target = self.target(ctx, at, path, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)?;
        match target {
            Target::Loc(l) if l.file_type() == FileType::Symlink => l.inode().readlink(),
            _ if empty => Err(Errno::ENOENT),
            _ => Err(Errno::EINVAL),
        }
    }

    /// `truncate(path, len)`: follows links; `EISDIR` for a directory, `EINVAL` for other
    /// non-regular files and negative lengths.
    pub fn truncate(
        &self,
        ctx: &FsContext,
        at: At<'_>,
        path: &[u8],
        len: i64,
    ) -> Result<(), Errno> {
        let size = u64::try_from(len).map_err(|_| Errno::EINVAL)?;
        let loc = self.resolve(ctx, at, path, true)?;
        match loc.file_type() {
            FileType::Regular => {}
            FileType::Directory => return Err(Errno::EISDIR),
            _ => return Err(Errno::EINVAL),
        }
        loc.want_write()?;
        check_access(&ctx.creds, &loc.stat()?, MAY_WRITE)?;
        loc.inode().setattr(&SetAttr {
            size: Some(size),
            mtime: Some(now()),
            ..SetAttr::default()
        })
    }

    /// `faccessat2(at, path, mode, flags)`: `mode` is `F_OK` or a mix of `R_OK`, `W_OK`,
    /// `X_OK`. Flags: `AT_EACCESS`, `AT_SYMLINK_NOFOLLOW`, `AT_EMPTY_PATH`. The context's
    /// credentials stand for both the real and the effective ids.
    pub fn access(
        &self,
        ctx: &FsContext,
        at: At<'_>,
        path: &[u8],
        mode: u32,
        flags: u32,
    ) -> Result<(), Errno> {
        if mode & !7 != 0 || flags & !(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
            return Err(Errno::EINVAL);
        }
        let target = self.target(ctx, at, path, flags)?;
        let st = target.stat()?;
        if mode == 0 {
            return Ok(());
        }
        if let Target::Loc(loc) = &target
            && mode & MAY_WRITE != 0
            && matches!(
                loc.file_type(),
                FileType::Regular | FileType::Directory | FileType::Symlink
            )
        {
            loc.want_write()?;
        }
        check_access(&ctx.creds, &st, mode)
    }

    /// `fchmodat2`: sets the permission, set-id and sticky bits. Only the owner (or root) may
    /// (`EPERM`); a symbolic link's mode cannot change (`EOPNOTSUPP`). Flags:
    /// `AT_SYMLINK_NOFOLLOW`, `AT_EMPTY_PATH`.
    pub fn chmod(
        &self,
        ctx: &FsContext,
        at: At<'_>,
        path: &[u8],
        mode: u32,
        flags: u32,
    ) -> Result<(), Errno> {
        if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
            return Err(Errno::EINVAL);
        }
        let Target::Loc(loc) = self.target(ctx, at, path, flags)? else {
            // Files outside the tree have no stored mode to change.
            return Ok(());
        };
        loc.want_write()?;
        let st = loc.stat()?;
        if loc.file_type() == FileType::Symlink {
            return Err(Errno::EOPNOTSUPP);
        }
        if !ctx.creds.owns(&st) {
            return Err(Errno::EPERM);
        }
        let mut mode = mode & MODE_PERM_MASK;
        // Without privilege, the set-group-id bit needs membership in the file's group.
        if !ctx.creds.has_cap(abi::caps::CAP_FSETID) && !ctx.creds.in_group(st.gid) {
            mode &= !S_ISGID;
        }
        loc.inode().setattr(&SetAttr {
            mode: Some(mode),
            ..SetAttr::default()
        })
    }

    /// `fchownat`: `None` leaves an id unchanged (the syscall's `-1`). Only root may give a
    /// file away; an owner may change the group to one of its own (`EPERM` otherwise). A
    /// non-directory loses its set-user-id bit, and set-group-id if group-executable.
    pub fn chown(
        &self,
        ctx: &FsContext,
        at: At<'_>,
        path: &[u8],
        uid: Option<u32>,
        gid: Option<u32>,
        flags: u32,
    ) -> Result<(), Errno> {
        if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
            return Err(Errno::EINVAL);
        }
        let Target::Loc(loc) = self.target(ctx, at, path, flags)? else {
            return Ok(());
        };
        loc.want_write()?;
        let st = loc.stat()?;
        let c = &ctx.creds;
        if !c.has_cap(abi::caps::CAP_CHOWN) {
            let uid_ok = uid.is_none_or(|u| u == st.uid);
            let gid_ok = gid.is_none_or(|g| g == st.gid || c.in_group(g));
            if c.uid != st.uid || !uid_ok || !gid_ok {
                return Err(Errno::EPERM);
            }
        }
        let mut attr = SetAttr {
            uid,
            gid,
            ..SetAttr::default()
        };
        if (uid.is_some() || gid.is_some()) && loc.file_type() != FileType::Directory {
            let mut mode = st.mode & MODE_PERM_MASK;
            mode &= !S_ISUID;
            if mode & 0o010 != 0 {
                mode &= !S_ISGID;
            }
            if mode != st.mode & MODE_PERM_MASK {
                attr.mode = Some(mode);
            }
        }
        loc.inode().setattr(&attr)
    }

    /// `utimensat`: `times` is `[atime, mtime]` with `UTIME_NOW`/`UTIME_OMIT` in `tv_nsec`,
    /// or `None` for both now. Setting explicit times needs ownership (`EPERM`); setting
    /// "now" needs ownership or write permission (`EACCES`). For `utimensat(fd, NULL, …)`
    /// pass an empty path with `AT_EMPTY_PATH`.
    pub fn utimens(
        &self,
        ctx: &FsContext,
        at: At<'_>,
        path: &[u8],
        times: Option<[Timespec; 2]>,
        flags: u32,
    ) -> Result<(), Errno> {
        if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
            return Err(Errno::EINVAL);
        }
        let t = now();
        let resolve = |ts: Timespec| -> Result<Option<Timespec>, Errno> {
            match ts.tv_nsec {
                UTIME_OMIT => Ok(None),
                UTIME_NOW => Ok(Some(t)),
                _ if ts.tv_nsec < 0 || ts.tv_nsec >= 1_000_000_000 => Err(Errno::EINVAL),
                _ => Ok(Some(ts)),
            }
        };
        let (atime, mtime, explicit) = match times {
            None => (Some(t), Some(t), false),
            Some([a, m]) => {
                let explicit = [a, m]
                    .iter()
                    .any(|x| x.tv_nsec != UTIME_NOW && x.tv_nsec != UTIME_OMIT);
                (resolve(a)?, resolve(m)?, explicit)
            }
        };
        let Target::Loc(loc) = self.target(ctx, at, path, flags)? else {
            return Ok(());
        };
        if atime.is_none() && mtime.is_none() {
            return Ok(());
        }
        loc.want_write()?;
        let st = loc.stat()?;
        if !ctx.creds.owns(&st) {
            if explicit {
                return Err(Errno::EPERM);
            }
            check_access(&ctx.creds, &st, MAY_WRITE)?;
        }
        loc.inode().setattr(&SetAttr {
            atime,
            mtime,
            ..SetAttr::default()
        })
    }

    /// Resolves `path` to a location (`ENOENT` for an empty path).
    pub fn resolve(
        &self,
        ctx: &FsContext,
        at: At<'_>,
        path: &[u8],
        follow: bool,
    ) -> Result<Location, Errno> {
        check_path(path)?;
        let mut w = Walker::new(self, ctx);
        let start = w.start(at, path)?;
        w.resolve(start, path, follow)
    }

    /// What a `*at` call with `flags` names.
    fn target<'f>(
        &self,
        ctx: &FsContext,
        at: At<'f>,
        path: &[u8],
        flags: u32,
    ) -> Result<Target<'f>, Errno> {
        if path.is_empty() {
            if flags & AT_EMPTY_PATH == 0 {
                return Err(Errno::ENOENT);
            }
            return Ok(match at {
                At::Cwd => Target::Loc(ctx.cwd.clone()),
                At::Dir(l) => Target::Loc(l.clone()),
                At::File(f) => match f.location() {
                    Some(l) => Target::Loc(l.clone()),
                    None => Target::File(f),
                },
            });
        }
        let follow = flags & AT_SYMLINK_NOFOLLOW == 0;
        self.resolve(ctx, at, path, follow).map(Target::Loc)
    }
}
