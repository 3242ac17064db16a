//! The working directory and root of a task: `chdir`, `fchdir`, `chroot`, `getcwd`, and the
//! path of a location (for `getcwd` and `/proc/self/fd` links).

use abi::Errno;

use super::Vfs;
use super::context::{At, FsContext};
use super::file::OpenFile;
use super::mount::Location;
use super::perm::{MAY_EXEC, may};

impl Vfs {
    /// `chdir`: the target must be a directory (`ENOTDIR`) the caller may search (`EACCES`).
    pub fn chdir(&self, ctx: &mut FsContext, at: At<'_>, path: &[u8]) -> Result<(), Errno> {
        let loc = self.resolve(ctx, at, path, true)?;
        ctx.cwd = self.checked_dir(ctx, loc)?;
        Ok(())
    }

    /// `fchdir`: to the directory an open file (possibly `O_PATH`) names.
    pub fn fchdir(&self, ctx: &mut FsContext, file: &OpenFile) -> Result<(), Errno> {
        let loc = file.location().cloned().ok_or(Errno::ENOTDIR)?;
        ctx.cwd = self.checked_dir(ctx, loc)?;
        Ok(())
    }

    /// `chroot`: a new root for the task (privilege is the caller's to check).
    pub fn chroot(&self, ctx: &mut FsContext, at: At<'_>, path: &[u8]) -> Result<(), Errno> {
        let loc = self.resolve(ctx, at, path, true)?;
        ctx.root = self.checked_dir(ctx, loc)?;
        Ok(())
    }

    fn checked_dir(&self, ctx: &FsContext, loc: Location) -> Result<Location, Errno> {
        if !loc.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        may(&ctx.creds, loc.inode().as_ref(), MAY_EXEC)?;
        Ok(loc)
    }

    /// `getcwd`: the path of the working directory (`ENOENT` once it has been removed).
    pub fn getcwd(&self, ctx: &FsContext) -> Result<Vec<u8>, Errno> {
        if ctx.cwd.dentry().is_dead() {
            return Err(Errno::ENOENT);
        }
        Ok(self.path_of(ctx, &ctx.cwd))
    }

    /// The absolute path of `loc` as the task sees it, built from dentry names up to the
    /// task's root, with " (deleted)" appended for a removed file, as Linux's `d_path`. A
    /// location outside the task's root gets the path from the top of the tree.
    pub fn path_of(&self, ctx: &FsContext, loc: &Location) -> Vec<u8> {
        let mut names: Vec<Vec<u8>> = Vec::new();
        let mut cur = loc.clone();
        loop {
            if cur.same(&ctx.root) {
                break;
            }
            if cur.is_mount_root() {
                match cur.mount().mountpoint() {
                    Some(covered) => {
                        cur = covered;
                        continue;
                    }
                    None => break,
                }
            }
            let Some(parent) = cur.dentry().parent() else {
                break;
            };
            names.push(cur.dentry().name());
            cur = Location::new(cur.mount().clone(), parent);
        }
        let mut out = Vec::new();
        for n in names.iter().rev() {
            out.push(b'/');
            out.extend_from_slice(n);
        }
        if out.is_empty() {
            out.push(b'/');
        }
        if loc.dentry().is_dead() {
            out.extend_from_slice(b" (deleted)");
        }
        out
    }

    /// `/proc/mounts`: one line per mount, oldest first, as Linux prints them (`source path
    /// type options 0 0`, with space, tab, newline and backslash in paths escaped in octal).
    pub fn mounts_text(&self) -> Vec<u8> {
        let ctx = self.new_context();
        let mut all = self.mounts.all();
        all.push(self.root().mount().clone());
        all.sort_by_key(|m| m.id());
        let mut out = Vec::new();
        for m in all {
            let path = match m.mountpoint() {
                Some(covered) => self.path_of(&ctx, &covered),
                None => b"/".to_vec(),
            };
            let name = m.fs().name().as_bytes().to_vec();
            out.extend_from_slice(&name);
            out.push(b' ');
            for &b in &path {
                match b {
                    b' ' | b'\t' | b'\n' | b'\\' => {
                        out.extend_from_slice(format!("\\{b:03o}").as_bytes())
                    }
                    _ => out.push(b),
                }
            }
            out.push(b' ');
            out.extend_from_slice(&name);
            let mode = if m.is_readonly() { " ro" } else { " rw" };
            out.extend_from_slice(mode.as_bytes());
            out.extend_from_slice(b",relatime 0 0\n");
        }
        out
    }
}
