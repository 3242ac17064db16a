//! File metadata in a form neutral to the guest architecture; the syscall layer converts a
//! [`FileStat`] to the guest's `struct stat` or `struct statx`.

use abi::Timespec;

/// Mask of the file type bits of a mode.
pub const S_IFMT: u32 = 0o170000;
pub const S_IFSOCK: u32 = 0o140000;
pub const S_IFLNK: u32 = 0o120000;
pub const S_IFREG: u32 = 0o100000;
pub const S_IFBLK: u32 = 0o060000;
pub const S_IFDIR: u32 = 0o040000;
pub const S_IFCHR: u32 = 0o020000;
pub const S_IFIFO: u32 = 0o010000;
pub const S_ISUID: u32 = 0o4000;
pub const S_ISGID: u32 = 0o2000;
pub const S_ISVTX: u32 = 0o1000;
/// Permission bits plus set-id and sticky bits: what `chmod` may change.
pub const MODE_PERM_MASK: u32 = 0o7777;

/// `st_blksize` of in-memory files.
pub const BLOCK_SIZE: u32 = 4096;

/// The type of a file, from the `S_IFMT` bits of its mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileType {
    Regular,
    Directory,
    Symlink,
    CharDevice,
    BlockDevice,
    Fifo,
    Socket,
}

impl FileType {
    /// The type encoded in `mode`, if any.
    pub fn from_mode(mode: u32) -> Option<FileType> {
        Some(match mode & S_IFMT {
            S_IFREG => FileType::Regular,
            S_IFDIR => FileType::Directory,
            S_IFLNK => FileType::Symlink,
            S_IFCHR => FileType::CharDevice,
            S_IFBLK => FileType::BlockDevice,
            S_IFIFO => FileType::Fifo,
            S_IFSOCK => FileType::Socket,
            _ => return None,
        })
    }

    /// The `S_IF*` bits of this type.
    pub fn mode_bits(self) -> u32 {
        match self {
            FileType::Regular => S_IFREG,
            FileType::Directory => S_IFDIR,
            FileType::Symlink => S_IFLNK,
            FileType::CharDevice => S_IFCHR,
            FileType::BlockDevice => S_IFBLK,
            FileType::Fifo => S_IFIFO,
            FileType::Socket => S_IFSOCK,
        }
    }

    /// The `DT_*` value `getdents64` reports for this type.
    pub fn dirent_type(self) -> u8 {
        use super::dirent::*;
        match self {
            FileType::Regular => DT_REG,
            FileType::Directory => DT_DIR,
            FileType::Symlink => DT_LNK,
            FileType::CharDevice => DT_CHR,
            FileType::BlockDevice => DT_BLK,
            FileType::Fifo => DT_FIFO,
            FileType::Socket => DT_SOCK,
        }
    }

    /// The type a `DT_*` value names (`None` for `DT_UNKNOWN` and `DT_WHT`).
    pub fn from_dirent_type(d_type: u8) -> Option<FileType> {
        use super::dirent::*;
        Some(match d_type {
            DT_REG => FileType::Regular,
            DT_DIR => FileType::Directory,
            DT_LNK => FileType::Symlink,
            DT_CHR => FileType::CharDevice,
            DT_BLK => FileType::BlockDevice,
            DT_FIFO => FileType::Fifo,
            DT_SOCK => FileType::Socket,
            _ => return None,
        })
    }
}

/// Everything `stat`/`statx` report about a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStat {
    /// Device of the file system holding the file (see [`makedev`]).
    pub dev: u64,
    pub ino: u64,
    /// File type and permission bits.
    pub mode: u32,
    pub nlink: u64,
    pub uid: u32,
    pub gid: u32,
    /// Device number of a device file (see [`makedev`]), 0 otherwise.
    pub rdev: u64,
    pub size: u64,
    pub blksize: u32,
    /// Number of 512-byte blocks allocated.
    pub blocks: u64,
    pub atime: Timespec,
    pub mtime: Timespec,
    pub ctime: Timespec,
}

impl FileStat {
    /// The metadata of a file that lives in no file system (pipe, eventfd, epoll): `mode`
    /// with type bits, timestamps of now.
    pub fn anonymous(mode: u32, ino: u64, blksize: u32) -> FileStat {
        let t = now();
        FileStat {
            dev: 0,
            ino,
            mode,
            nlink: 1,
            uid: 0,
            gid: 0,
            rdev: 0,
            size: 0,
            blksize,
            blocks: 0,
            atime: t,
            mtime: t,
            ctime: t,
        }
    }

    /// A host object's metadata as a file of a sandbox file system on device `dev` with
    /// inode number `ino`.
    pub fn of_host(h: &crate::host::HostStat, dev: u64, ino: u64) -> FileStat {
        FileStat {
            dev,
            ino,
            mode: h.mode,
            nlink: h.nlink,
            uid: h.uid,
            gid: h.gid,
            rdev: h.rdev,
            size: h.size,
            blksize: h.blksize,
            blocks: h.blocks,
            atime: h.atime,
            mtime: h.mtime,
            ctime: h.ctime,
        }
    }

    /// The file type, if the mode holds a valid one.
    pub fn file_type(&self) -> Option<FileType> {
        FileType::from_mode(self.mode)
    }

    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        self.mode & S_IFMT == S_IFDIR
    }
}

/// A device number in glibc's `makedev` encoding, which is also what Linux's `stat` reports:
/// the low 8 bits of the minor, then 12 bits of major, then the rest of each.
pub const fn makedev(major: u32, minor: u32) -> u64 {
    let (ma, mi) = (major as u64, minor as u64);
    ((ma & 0xffff_f000) << 32) | ((ma & 0xfff) << 8) | ((mi & 0xffff_ff00) << 12) | (mi & 0xff)
}

/// The major number of a [`makedev`] device number.
pub const fn major(dev: u64) -> u32 {
    (((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0xfff)) as u32
}

/// The minor number of a [`makedev`] device number.
pub const fn minor(dev: u64) -> u32 {
    (((dev >> 12) & 0xffff_ff00) | (dev & 0xff)) as u32
}

/// The current wall-clock time, for timestamps.
pub fn now() -> Timespec {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => Timespec::new(
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            i64::from(d.subsec_nanos()),
        ),
        Err(_) => Timespec::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_numbers_round_trip() {
        assert_eq!(makedev(1, 3), 0x103);
        for (ma, mi) in [(1, 3), (0, 0), (4095, 255), (4096, 256), (0xfffff, 0xfffff)] {
            let d = makedev(ma, mi);
            assert_eq!((major(d), minor(d)), (ma, mi));
        }
    }

    #[test]
    fn file_types_round_trip() {
        for t in [
            FileType::Regular,
            FileType::Directory,
            FileType::Symlink,
            FileType::CharDevice,
            FileType::BlockDevice,
            FileType::Fifo,
            FileType::Socket,
        ] {
            assert_eq!(FileType::from_mode(t.mode_bits() | 0o644), Some(t));
            assert_eq!(FileType::from_dirent_type(t.dirent_type()), Some(t));
        }
        assert_eq!(FileType::from_mode(0o644), None);
    }
}
