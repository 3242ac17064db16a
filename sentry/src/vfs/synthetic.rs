//! Synthetic file systems, whose contents code produces on demand: the way procfs (and
//! later sysfs) plug into the VFS.
//!
//! A tree of [`SynthNode`]s: directories list and look up their entries through
//! [`SynthDir`] (so `/proc/<pid>` can follow the task list), files produce their bytes when
//! opened through [`SynthFile`] (a snapshot per open file, as Linux's `seq_file`), and links
//! produce their target through [`SynthLink`]. [`StaticDir`], [`FnFile`] and [`FnLink`]
//! cover the fixed parts. Inode numbers derive from the path, so they stay stable.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use abi::{Errno, Timespec};

use super::OpenFlags;
use super::file::{FileOps, Whence, generic_seek};
use super::inode::{DirEntry, FileSystem, Inode};
use super::mount::new_anon_dev;
use super::stat::{BLOCK_SIZE, FileStat, FileType, S_IFDIR, S_IFLNK, S_IFREG, now};

/// A directory whose entries code decides.
pub trait SynthDir: Send + Sync {
    /// The entries now (without `.` and `..`).
    fn entries(&self) -> Result<Vec<(Vec<u8>, SynthNode)>, Errno>;

    /// One entry; by default found among [`SynthDir::entries`].
    fn lookup(&self, name: &[u8]) -> Result<SynthNode, Errno> {
        self.entries()?
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, node)| node)
            .ok_or(Errno::ENOENT)
    }

    /// Permission bits.
    fn mode(&self) -> u32 {
        0o555
    }
}

/// A file whose contents code produces.
pub trait SynthFile: Send + Sync {
    /// The whole contents, produced at each open.
    fn read(&self) -> Result<Vec<u8>, Errno>;

    /// Takes one `write` (`EINVAL` by default: the file is read-only).
    fn write(&self, data: &[u8]) -> Result<usize, Errno> {
        let _ = data;
        Err(Errno::EINVAL)
    }

    /// Permission bits.
    fn mode(&self) -> u32 {
        0o444
    }
}

/// A symbolic link whose target code produces.
pub trait SynthLink: Send + Sync {
    fn target(&self) -> Result<Vec<u8>, Errno>;
}

/// A node of a synthetic tree.
#[derive(Clone)]
pub enum SynthNode {
    Dir(Arc<dyn SynthDir>),
    File(Arc<dyn SynthFile>),
    Symlink(Arc<dyn SynthLink>),
}

impl SynthNode {
    fn file_type(&self) -> FileType {
        match self {
            SynthNode::Dir(_) => FileType::Directory,
            SynthNode::File(_) => FileType::Regular,
            SynthNode::Symlink(_) => FileType::Symlink,
        }
    }
}

/// A directory with a fixed set of entries.
#[derive(Default, Clone)]
pub struct StaticDir {
    entries: BTreeMap<Vec<u8>, SynthNode>,
}

impl StaticDir {
    pub fn new() -> StaticDir {
        StaticDir::default()
    }

    /// Adds an entry (builder style).
    pub fn with(mut self, name: &str, node: SynthNode) -> StaticDir {
        self.entries.insert(name.as_bytes().to_vec(), node);
        self
    }

    /// This directory as a node.
    pub fn into_node(self) -> SynthNode {
        SynthNode::Dir(Arc::new(self))
    }
}

impl SynthDir for StaticDir {
    fn entries(&self) -> Result<Vec<(Vec<u8>, SynthNode)>, Errno> {
        Ok(self
            .entries
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn lookup(&self, name: &[u8]) -> Result<SynthNode, Errno> {
        self.entries.get(name).cloned().ok_or(Errno::ENOENT)
    }
}

/// A read-only file produced by a closure.
pub struct FnFile<F>(pub F);

impl<F: Fn() -> Result<Vec<u8>, Errno> + Send + Sync + 'static> FnFile<F> {
    /// The file as a node.
    pub fn node(f: F) -> SynthNode {
        SynthNode::File(Arc::new(FnFile(f)))
    }
}

impl<F: Fn() -> Result<Vec<u8>, Errno> + Send + Sync> SynthFile for FnFile<F> {
    fn read(&self) -> Result<Vec<u8>, Errno> {
        (self.0)()
    }
}

/// A link whose target a closure produces.
pub struct FnLink<F>(pub F);

impl<F: Fn() -> Result<Vec<u8>, Errno> + Send + Sync + 'static> FnLink<F> {
    /// The link as a node.
    pub fn node(f: F) -> SynthNode {
        SynthNode::Symlink(Arc::new(FnLink(f)))
    }
}

impl<F: Fn() -> Result<Vec<u8>, Errno> + Send + Sync> SynthLink for FnLink<F> {
    fn target(&self) -> Result<Vec<u8>, Errno> {
        (self.0)()
    }
}

/// A mountable synthetic file system.
pub struct SynthFs {
    name: String,
    root: Arc<SynthInode>,
}

struct Shared {
    dev: u64,
    /// Timestamps of every node: when the file system was made.
    time: Timespec,
}

impl SynthFs {
    /// A file system called `name` (e.g. `proc`) with `root` as its root directory.
    pub fn new(name: &str, root: Arc<dyn SynthDir>) -> Arc<SynthFs> {
        let shared = Arc::new(Shared {
            dev: new_anon_dev(),
            time: now(),
        });
        Arc::new(SynthFs {
            name: name.to_string(),
            root: Arc::new(SynthInode {
                shared,
                ino: 1,
                node: SynthNode::Dir(root),
            }),
        })
    }
}

impl FileSystem for SynthFs {
    fn name(&self) -> &str {
        &self.name
    }

    fn root(&self) -> Arc<dyn Inode> {
        self.root.clone()
    }
}

struct SynthInode {
    shared: Arc<Shared>,
    ino: u64,
    node: SynthNode,
}

impl SynthInode {
    /// A stable inode number for `name` under the directory numbered `parent`.
    fn child_ino(parent: u64, name: &[u8]) -> u64 {
        let mut h = DefaultHasher::new();
        parent.hash(&mut h);
        name.hash(&mut h);
        // Keep 1 for the root.
        h.finish() | 2
    }

    fn dir(&self) -> Result<&Arc<dyn SynthDir>, Errno> {
        match &self.node {
            SynthNode::Dir(d) => Ok(d),
            _ => Err(Errno::ENOTDIR),
        }
    }
}

impl Inode for SynthInode {
    fn file_type(&self) -> FileType {
        self.node.file_type()
    }

    fn stat(&self) -> Result<FileStat, Errno> {
        let (mode, nlink) = match &self.node {
            SynthNode::Dir(d) => (S_IFDIR | d.mode(), 2),
            SynthNode::File(f) => (S_IFREG | f.mode(), 1),
            SynthNode::Symlink(_) => (S_IFLNK | 0o777, 1),
        };
        let t = self.shared.time;
        Ok(FileStat {
            dev: self.shared.dev,
            ino: self.ino,
            mode,
            nlink,
            uid: 0,
            gid: 0,
            rdev: 0,
            // Like procfs: the size of generated contents is not known before reading.
            size: 0,
            blksize: BLOCK_SIZE,
            blocks: 0,
            atime: t,
            mtime: t,
            ctime: t,
        })
    }

    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>, Errno> {
        let node = self.dir()?.lookup(name)?;
        Ok(Arc::new(SynthInode {
            shared: self.shared.clone(),
            ino: Self::child_ino(self.ino, name),
            node,
        }))
    }

    fn read_dir(&self) -> Result<Vec<DirEntry>, Errno> {
        Ok(self
            .dir()?
            .entries()?
            .into_iter()
            .map(|(name, node)| DirEntry {
                ino: Self::child_ino(self.ino, &name),
                file_type: Some(node.file_type()),
                name,
            })
            .collect())
    }

    fn readlink(&self) -> Result<Vec<u8>, Errno> {
        match &self.node {
            SynthNode::Symlink(l) => l.target(),
            _ => Err(Errno::EINVAL),
        }
    }

    fn open(self: Arc<Self>, flags: OpenFlags) -> Result<Box<dyn FileOps>, Errno> {
        let SynthNode::File(file) = &self.node else {
            return Err(Errno::ENXIO);
        };
        // Write-only opens do not need the contents.
        let data = if flags.access_mode() == abi::flags::open::O_WRONLY {
            Vec::new()
        } else {
            file.read()?
        };
        Ok(Box::new(SynthFileOps {
            file: file.clone(),
            inode: self.clone(),
            data,
        }))
    }
}

/// An open synthetic file: the contents produced at open time.
struct SynthFileOps {
    file: Arc<dyn SynthFile>,
    inode: Arc<SynthInode>,
    data: Vec<u8>,
}

impl SynthFileOps {
    fn read_at(&self, buf: &mut [u8], off: i64) -> Result<usize, Errno> {
        let off = usize::try_from(off).map_err(|_| Errno::EINVAL)?;
        let src = self.data.get(off..).unwrap_or_default();
        let n = src.len().min(buf.len());
        buf[..n].copy_from_slice(&src[..n]);
        Ok(n)
    }
}

impl FileOps for SynthFileOps {
    fn read(&self, buf: &mut [u8], pos: &mut i64, _flags: OpenFlags) -> Result<usize, Errno> {
        let n = self.read_at(buf, *pos)?;
        *pos += n as i64;
        Ok(n)
    }

    fn pread(&self, buf: &mut [u8], offset: i64) -> Result<usize, Errno> {
        self.read_at(buf, offset)
    }

    fn write(&self, buf: &[u8], pos: &mut i64, _flags: OpenFlags) -> Result<usize, Errno> {
        let n = self.file.write(buf)?;
        *pos += n as i64;
        Ok(n)
    }

    fn pwrite(&self, buf: &[u8], _offset: i64, _flags: OpenFlags) -> Result<usize, Errno> {
        self.file.write(buf)
    }

    fn seek(&self, pos: i64, offset: i64, whence: Whence) -> Result<i64, Errno> {
        generic_seek(pos, offset, whence, self.data.len() as u64)
    }

    fn stat(&self) -> Result<FileStat, Errno> {
        self.inode.stat()
    }
}
