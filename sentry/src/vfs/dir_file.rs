//! Open directories: `getdents64` over any file system's [`Inode::read_dir`].
//!
//! The listing is taken when reading starts at offset 0 (so `rewinddir` sees changes) and
//! served from that snapshot; the offset of an entry is its index plus one, so `telldir` and
//! `seekdir` values stay valid for the description's life.

use std::sync::{Arc, Mutex};

use abi::Errno;

use super::dentry::Dentry;
use super::dirent::{DT_DIR, DT_UNKNOWN, write_record};
use super::file::{FileOps, Whence};
use super::inode::{DirEntry, Inode};
use super::lock;
use super::stat::{FileStat, FileType};

pub(crate) struct DirOps {
    dentry: Arc<Dentry>,
    /// `d_ino` of `..`: the parent in the same file system, or the directory itself at a
    /// file system root (as Linux reports it).
    parent_ino: u64,
    listing: Mutex<Option<Vec<DirEntry>>>,
}

impl DirOps {
    pub(crate) fn new(dentry: Arc<Dentry>) -> Result<DirOps, Errno> {
        let own = dentry.inode().stat()?.ino;
        let parent_ino = match dentry.parent() {
            Some(p) => p.inode().stat()?.ino,
            None => own,
        };
        Ok(DirOps {
            dentry,
            parent_ino,
            listing: Mutex::new(None),
        })
    }

    fn inode(&self) -> &Arc<dyn Inode> {
        self.dentry.inode()
    }

    fn snapshot(&self) -> Result<Vec<DirEntry>, Errno> {
        let own = self.inode().stat()?.ino;
        let mut all = vec![
            DirEntry {
                name: b".".to_vec(),
                ino: own,
                file_type: Some(FileType::Directory),
            },
            DirEntry {
                name: b"..".to_vec(),
                ino: self.parent_ino,
                file_type: Some(FileType::Directory),
            },
        ];
        all.extend(self.inode().read_dir()?);
        Ok(all)
    }
}

impl FileOps for DirOps {
    fn read(
        &self,
        _buf: &mut [u8],
        _pos: &mut i64,
        _flags: super::OpenFlags,
    ) -> Result<usize, Errno> {
        Err(Errno::EISDIR)
    }

    fn pread(&self, _buf: &mut [u8], _offset: i64) -> Result<usize, Errno> {
        Err(Errno::EISDIR)
    }

    fn seek(&self, pos: i64, offset: i64, whence: Whence) -> Result<i64, Errno> {
        let new = match whence {
            Whence::Set => Some(offset),
            Whence::Cur => pos.checked_add(offset),
            _ => return Err(Errno::EINVAL),
        };
        match new {
            Some(n) if n >= 0 => Ok(n),
            _ => Err(Errno::EINVAL),
        }
    }

    fn stat(&self) -> Result<FileStat, Errno> {
        self.inode().stat()
    }

    fn getdents(&self, buf: &mut [u8], pos: &mut i64) -> Result<usize, Errno> {
        // A removed directory lists nothing, not even `.` and `..`.
        if self.dentry.is_dead() {
            return Ok(0);
        }
        let mut listing = lock(&self.listing);
        if *pos == 0 || listing.is_none() {
            *listing = Some(self.snapshot()?);
        }
        let entries = listing.as_deref().unwrap_or_default();
        let mut written = 0;
        let mut index = usize::try_from(*pos).map_err(|_| Errno::EINVAL)?;
        while let Some(e) = entries.get(index) {
            let d_type = e.file_type.map_or(DT_UNKNOWN, FileType::dirent_type);
            let d_type = if e.name == b"." || e.name == b".." {
                DT_DIR
            } else {
                d_type
            };
            let next = i64::try_from(index + 1).map_err(|_| Errno::EOVERFLOW)?;
            match write_record(&mut buf[written..], e.ino, next, d_type, &e.name) {
                Some(n) => written += n,
                // Not even one record fits: the buffer is too small.
                None if written == 0 => return Err(Errno::EINVAL),
                None => break,
            }
            index += 1;
            *pos = next;
        }
        Ok(written)
    }
}
