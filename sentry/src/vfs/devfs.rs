//! devfs: the sandbox's `/dev`, a tmpfs holding the memory devices (`null`, `zero`, `full`,
//! `random`, `urandom`), `shm/`, and the usual links into `/proc/self/fd`.
//!
//! Device nodes are opened by number, wherever they are (a device node in the overlay opens
//! the sandbox's device too, never the host's).

use std::sync::Arc;

use abi::Errno;

use super::OpenFlags;
use super::file::{FileOps, Whence};
use super::inode::Inode;
use super::stat::{FileStat, S_IFCHR, S_IFDIR, S_IFLNK, major, makedev, minor};
use super::tmpfs::{Body, Meta, TmpNode, Tmpfs};

/// Major number of the memory devices.
const MEM_MAJOR: u32 = 1;

/// The memory devices, by minor number (as Linux numbers them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MemDev {
    Null,
    Zero,
    Full,
    Random,
    Urandom,
}

impl MemDev {
    fn from_rdev(rdev: u64) -> Option<MemDev> {
        if major(rdev) != MEM_MAJOR {
            return None;
        }
        Some(match minor(rdev) {
            3 => MemDev::Null,
            5 => MemDev::Zero,
            7 => MemDev::Full,
            8 => MemDev::Random,
            9 => MemDev::Urandom,
            _ => return None,
        })
    }
}

/// The device nodes of a fresh `/dev`: name and minor number.
const NODES: &[(&str, u32)] = &[
    ("null", 3),
    ("zero", 5),
    ("full", 7),
    ("random", 8),
    ("urandom", 9),
];

/// The links of a fresh `/dev` (they work once procfs is mounted).
const LINKS: &[(&str, &str)] = &[
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
];

/// A new `/dev`.
pub fn new_devfs() -> Result<Arc<Tmpfs>, Errno> {
    let fs = Tmpfs::new(0o755);
    let root = fs.root_node();
    for &(name, min) in NODES {
        let node = TmpNode::new(
            fs.shared(),
            Meta::new(S_IFCHR | 0o666, 0, 0),
            Body::Special {
                rdev: makedev(MEM_MAJOR, min),
            },
        );
        root.dir_insert(name.as_bytes(), &node, false)?;
    }
    for &(name, target) in LINKS {
        let node = TmpNode::new(
            fs.shared(),
            Meta::new(S_IFLNK | 0o777, 0, 0),
            Body::Symlink(target.as_bytes().to_vec()),
        );
        root.dir_insert(name.as_bytes(), &node, false)?;
    }
    let shm = TmpNode::new_dir(fs.shared(), Meta::new(S_IFDIR | 0o1777, 0, 0));
    root.dir_insert(b"shm", &shm, false)?;
    Ok(fs)
}

/// Opens the sandbox device numbered `rdev`, whose node is `inode` (`ENXIO` if there is no
/// such device, as Linux answers for an unregistered number).
pub(crate) fn open_device(rdev: u64, inode: Arc<dyn Inode>) -> Result<Box<dyn FileOps>, Errno> {
    let dev = MemDev::from_rdev(rdev).ok_or(Errno::ENXIO)?;
    Ok(Box::new(MemDevOps { dev, inode }))
}

struct MemDevOps {
    dev: MemDev,
    inode: Arc<dyn Inode>,
}

impl MemDevOps {
    fn fill(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        match self.dev {
            MemDev::Null => Ok(0),
            MemDev::Zero | MemDev::Full => {
                buf.fill(0);
                Ok(buf.len())
            }
            MemDev::Random | MemDev::Urandom => {
                crate::host::getrandom(buf)?;
                Ok(buf.len())
            }
        }
    }

    fn sink(&self, buf: &[u8]) -> Result<usize, Errno> {
        match self.dev {
            MemDev::Full => Err(Errno::ENOSPC),
            // Bytes written to the random devices would only be mixed into the pool.
            _ => Ok(buf.len()),
        }
    }
}

impl FileOps for MemDevOps {
    fn read(&self, buf: &mut [u8], _pos: &mut i64, _flags: OpenFlags) -> Result<usize, Errno> {
        self.fill(buf)
    }

    fn write(&self, buf: &[u8], _pos: &mut i64, _flags: OpenFlags) -> Result<usize, Errno> {
        self.sink(buf)
    }

    fn pread(&self, buf: &mut [u8], _offset: i64) -> Result<usize, Errno> {
        self.fill(buf)
    }

    fn pwrite(&self, buf: &[u8], _offset: i64, _flags: OpenFlags) -> Result<usize, Errno> {
        self.sink(buf)
    }

    fn seek(&self, pos: i64, _offset: i64, _whence: Whence) -> Result<i64, Errno> {
        // null, zero and full always seek to 0; the random devices ignore seeks.
        Ok(match self.dev {
            MemDev::Random | MemDev::Urandom => pos,
            _ => 0,
        })
    }

    fn stat(&self) -> Result<FileStat, Errno> {
        self.inode.stat()
    }
}
