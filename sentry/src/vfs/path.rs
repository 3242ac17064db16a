//! Path resolution, as Linux's `namei` does it: component by component from the root or a
//! starting directory, `.` and `..` handled here (so `..` never leaves the task's root and
//! crosses mounts upward), symbolic links expanded in place with at most
//! [`MAX_SYMLINKS`] per resolution, mounts crossed downward after each step.

use abi::Errno;

use super::Vfs;
use super::context::{At, FsContext};
use super::dentry::child_locked;
use super::mount::Location;
use super::perm::{MAY_EXEC, may};
use super::stat::FileType;

/// Longest path accepted, counting the terminating NUL (Linux's `PATH_MAX`).
pub const PATH_MAX: usize = 4096;
/// Longest name of one component (`NAME_MAX`).
pub const NAME_MAX: usize = 255;
/// Symbolic links followed in one resolution before `ELOOP` (`MAXSYMLINKS`).
pub const MAX_SYMLINKS: u32 = 40;

/// The last component of a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Last {
    Name(Vec<u8>),
    Dot,
    DotDot,
    /// The path was only slashes.
    Root,
}

/// A path resolved up to its last component.
pub(crate) struct Parent {
    /// The directory holding the last component.
    pub dir: Location,
    pub last: Last,
    /// Whether slashes followed the last component (it must then be a directory).
    pub trailing: bool,
}

/// Rejects paths Linux would not accept: too long, or holding a NUL (a C string cannot).
pub(crate) fn check_path(path: &[u8]) -> Result<(), Errno> {
    if path.len() >= PATH_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    if path.contains(&0) {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// One resolution in progress; it counts the links followed.
pub(crate) struct Walker<'a> {
    vfs: &'a Vfs,
    ctx: &'a FsContext,
    links: u32,
}

impl<'a> Walker<'a> {
    pub(crate) fn new(vfs: &'a Vfs, ctx: &'a FsContext) -> Walker<'a> {
        Walker { vfs, ctx, links: 0 }
    }

    /// Where `path` starts: the root for an absolute path, else `at`.
    pub(crate) fn start(&self, at: At<'_>, path: &[u8]) -> Result<Location, Errno> {
        if path.first() == Some(&b'/') {
            return Ok(self.ctx.root.clone());
        }
        match at {
            At::Cwd => Ok(self.ctx.cwd.clone()),
            At::Dir(loc) => Ok(loc.clone()),
            At::File(f) => f.location().cloned().ok_or(Errno::ENOTDIR),
        }
    }

    /// Walks `path` from `start` up to its last component, following every symbolic link on
    /// the way. `path` must not be empty.
    pub(crate) fn walk_parent(&mut self, start: Location, path: &[u8]) -> Result<Parent, Errno> {
        check_path(path)?;
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        let mut cur = if path[0] == b'/' {
            self.ctx.root.clone()
        } else {
            start
        };
        let mut buf = path.to_vec();
        let mut pos = 0;
        loop {
            while buf.get(pos) == Some(&b'/') {
                pos += 1;
            }
            if pos == buf.len() {
                self.enter_dir(&cur)?;
                return Ok(Parent {
                    dir: cur,
                    last: Last::Root,
                    trailing: false,
                });
            }
            let end = buf[pos..]
                .iter()
                .position(|&b| b == b'/')
                .map_or(buf.len(), |i| pos + i);
            let mut next = end;
            while buf.get(next) == Some(&b'/') {
                next += 1;
            }
            let comp = &buf[pos..end];
            if comp.len() > NAME_MAX {
                return Err(Errno::ENAMETOOLONG);
            }
            // Search permission on every directory passed through, the last one included.
            self.enter_dir(&cur)?;
            if next == buf.len() {
                let last = match comp {
                    b"." => Last::Dot,
                    b".." => Last::DotDot,
                    name => Last::Name(name.to_vec()),
                };
                return Ok(Parent {
                    dir: cur,
                    last,
                    trailing: end < buf.len(),
                });
            }
            match comp {
                b"." => {}
                b".." => cur = self.parent_of(&cur),
                name => {
                    let child = self.child(&cur, name)?;
                    if child.file_type() == FileType::Symlink {
                        let (from, mut target) = self.follow_link(&cur, &child)?;
                        target.push(b'/');
                        target.extend_from_slice(&buf[next..]);
                        buf = target;
                        pos = 0;
                        cur = from;
                        continue;
                    }
                    cur = child;
                }
            }
            pos = next;
        }
    }

    /// Resolves `path` from `start` to the location it names, following a final symbolic
    /// link if `follow` (or if a trailing slash demands a directory).
    pub(crate) fn resolve(
        &mut self,
        start: Location,
        path: &[u8],
        follow: bool,
    ) -> Result<Location, Errno> {
        let mut p = self.walk_parent(start, path)?;
        loop {
            let loc = match &p.last {
                Last::Root | Last::Dot => p.dir.clone(),
                Last::DotDot => self.parent_of(&p.dir),
                Last::Name(name) => {
                    let child = self.child(&p.dir, name)?;
                    if child.file_type() == FileType::Symlink && (follow || p.trailing) {
                        let (from, mut target) = self.follow_link(&p.dir, &child)?;
                        if p.trailing {
                            target.push(b'/');
                        }
                        p = self.walk_parent(from, &target)?;
                        continue;
                    }
                    child
                }
            };
            if p.trailing && !loc.is_dir() {
                return Err(Errno::ENOTDIR);
            }
            return Ok(loc);
        }
    }

    /// Counts one more link and reads it: the directory its target starts from (`dir`, or the
    /// root for an absolute target) and the target.
    pub(crate) fn follow_link(
        &mut self,
        dir: &Location,
        link: &Location,
    ) -> Result<(Location, Vec<u8>), Errno> {
        self.links += 1;
        if self.links > MAX_SYMLINKS {
            return Err(Errno::ELOOP);
        }
        let target = link.inode().readlink()?;
        if target.is_empty() {
            return Err(Errno::ENOENT);
        }
        let from = if target[0] == b'/' {
            self.ctx.root.clone()
        } else {
            dir.clone()
        };
        Ok((from, target))
    }

    /// Looks up `name` in `dir` through the dentry cache, then crosses mounts.
    pub(crate) fn child(&self, dir: &Location, name: &[u8]) -> Result<Location, Errno> {
        let dentry = {
            let mut children = dir.dentry().lock_children();
            child_locked(dir.dentry(), &mut children, name, &self.vfs.dcache)?
        };
        self.vfs.maybe_sweep();
        Ok(self
            .vfs
            .mounts
            .cross(Location::new(dir.mount().clone(), dentry)))
    }

    /// `..` of `loc`: stays at the task's root, climbs out of a mount root to the covered
    /// dentry's parent, and stays put at the top of the tree.
    pub(crate) fn parent_of(&self, loc: &Location) -> Location {
        parent_of(&self.ctx.root, loc)
    }

    /// Checks that `dir` is a directory the caller may search.
    fn enter_dir(&self, dir: &Location) -> Result<(), Errno> {
        if !dir.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        may(&self.ctx.creds, dir.inode().as_ref(), MAY_EXEC)
    }
}

/// `..` of `loc` for a task whose root is `root`.
pub(crate) fn parent_of(root: &Location, loc: &Location) -> Location {
    let mut cur = loc.clone();
    loop {
        if cur.same(root) {
            return cur;
        }
        if cur.is_mount_root() {
            match cur.mount().mountpoint() {
                Some(covered) => {
                    cur = covered;
                    continue;
                }
                None => return cur,
            }
        }
        return match cur.dentry().parent() {
            Some(p) => Location::new(cur.mount().clone(), p),
            None => cur,
        };
    }
}
