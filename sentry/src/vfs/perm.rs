//! Credentials and Unix permission checks.
//!
//! The sandbox runs everything as uid 0 for now, but each operation still asks for the access
//! it needs, so that non-root credentials work once tasks carry them.

use abi::Errno;

use super::inode::Inode;
use super::stat::{FileStat, S_ISVTX};

/// Permission to read (`R_OK` of `access`).
pub const MAY_READ: u32 = 4;
/// Permission to write (`W_OK`).
pub const MAY_WRITE: u32 = 2;
/// Permission to execute, or to search a directory (`X_OK`).
pub const MAY_EXEC: u32 = 1;

/// The identity file operations are checked against (the filesystem ids of a task).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Creds {
    /// Effective user id, which is also the filesystem one.
    pub uid: u32,
    /// Effective group id, which is also the filesystem one.
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
    /// Real and saved user ids.
    pub ruid: u32,
    pub suid: u32,
    /// Real and saved group ids.
    pub rgid: u32,
    pub sgid: u32,
    /// Effective and permitted capabilities (bit n for capability n).
    pub caps: u64,
    pub permitted: u64,
}

impl Creds {
    /// uid 0, gid 0: what a container runs as unless its configuration says otherwise.
    pub fn root() -> Creds {
        Creds::user(0, 0, Vec::new())
    }

    /// Real, effective and saved ids all `uid` and `gid`, with supplementary `groups`.
    /// The groups are kept sorted, as Linux's `setgroups` keeps them.
    pub fn user(uid: u32, gid: u32, mut groups: Vec<u32>) -> Creds {
        groups.sort_unstable();
        Creds {
            uid,
            gid,
            groups,
            ruid: uid,
            suid: uid,
            rgid: gid,
            sgid: gid,
            caps: if uid == 0 { abi::caps::ALL } else { 0 },
            permitted: if uid == 0 { abi::caps::ALL } else { 0 },
        }
    }

    /// Whether capability `cap` is in the effective set.
    pub fn has_cap(&self, cap: u32) -> bool {
        self.caps & (1 << cap) != 0
    }

    /// Whether these credentials bypass permission bits (`CAP_DAC_OVERRIDE`).
    pub fn is_root(&self) -> bool {
        self.has_cap(abi::caps::CAP_DAC_OVERRIDE)
    }

    /// Whether `gid` is the primary or a supplementary group.
    pub fn in_group(&self, gid: u32) -> bool {
        self.gid == gid || self.groups.contains(&gid)
    }

    /// Whether these credentials own a file (or may act as its owner).
    pub fn owns(&self, stat: &FileStat) -> bool {
        self.has_cap(abi::caps::CAP_FOWNER) || self.uid == stat.uid
    }
}

/// Checks `want` (`MAY_*` bits) against a file's mode, as `generic_permission` does:
/// owner bits, else group bits, else other bits; root may read and write anything, search any
/// directory, and execute a file with at least one execute bit.
pub fn check_access(creds: &Creds, stat: &FileStat, want: u32) -> Result<(), Errno> {
    if creds.is_root() {
        if want & MAY_EXEC == 0 || stat.is_dir() || stat.mode & 0o111 != 0 {
            return Ok(());
        }
        return Err(Errno::EACCES);
    }
    let bits = if creds.uid == stat.uid {
        (stat.mode >> 6) & 7
    } else if creds.in_group(stat.gid) {
        (stat.mode >> 3) & 7
    } else {
        stat.mode & 7
    };
    if want & !bits == 0 {
        Ok(())
    } else {
        Err(Errno::EACCES)
    }
}

/// [`check_access`] on an inode, without reading its metadata when root is sure to pass.
pub(crate) fn may(creds: &Creds, inode: &dyn Inode, want: u32) -> Result<(), Errno> {
    if creds.is_root()
        && (want & MAY_EXEC == 0 || inode.file_type() == super::stat::FileType::Directory)
    {
        return Ok(());
    }
    check_access(creds, &inode.stat()?, want)
}

/// The sticky-directory rule for removing or replacing `victim` in `dir`: only the owner of
/// either (or root) may (`EPERM` otherwise).
pub(crate) fn check_sticky(
    creds: &Creds,
    dir: &dyn Inode,
    victim: &dyn Inode,
) -> Result<(), Errno> {
    if creds.has_cap(abi::caps::CAP_FOWNER) {
        return Ok(());
    }
    let d = dir.stat()?;
    if d.mode & S_ISVTX == 0 || d.uid == creds.uid || victim.stat()?.uid == creds.uid {
        return Ok(());
    }
    Err(Errno::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::stat::{S_IFDIR, S_IFREG};
    use abi::Timespec;

    fn stat(mode: u32, uid: u32, gid: u32) -> FileStat {
        FileStat {
            dev: 0,
            ino: 1,
            mode,
            nlink: 1,
            uid,
            gid,
            rdev: 0,
            size: 0,
            blksize: 4096,
            blocks: 0,
            atime: Timespec::default(),
            mtime: Timespec::default(),
            ctime: Timespec::default(),
        }
    }

    #[test]
    fn owner_group_other() {
        let user = Creds::user(1000, 100, vec![20]);
        let f = stat(S_IFREG | 0o640, 1000, 100);
        assert!(check_access(&user, &f, MAY_READ | MAY_WRITE).is_ok());
        assert_eq!(check_access(&user, &f, MAY_EXEC), Err(Errno::EACCES));
        let g = stat(S_IFREG | 0o640, 1, 20);
        assert!(check_access(&user, &g, MAY_READ).is_ok());
        assert_eq!(check_access(&user, &g, MAY_WRITE), Err(Errno::EACCES));
        let o = stat(S_IFREG | 0o604, 1, 1);
        assert!(check_access(&user, &o, MAY_READ).is_ok());
        // Owner bits apply to the owner even when "other" would allow more.
        let denied = stat(S_IFREG | 0o007, 1000, 1);
        assert_eq!(check_access(&user, &denied, MAY_READ), Err(Errno::EACCES));
    }

    #[test]
    fn root_bypasses_all_but_exec() {
        let root = Creds::root();
        let f = stat(S_IFREG, 5, 5);
        assert!(check_access(&root, &f, MAY_READ | MAY_WRITE).is_ok());
        assert_eq!(check_access(&root, &f, MAY_EXEC), Err(Errno::EACCES));
        assert!(check_access(&root, &stat(S_IFREG | 0o001, 5, 5), MAY_EXEC).is_ok());
        assert!(check_access(&root, &stat(S_IFDIR, 5, 5), MAY_EXEC).is_ok());
    }
}
