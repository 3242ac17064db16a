//! The caller's standard streams, passed into the sandbox as descriptors 0, 1 and 2.

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::sync::Mutex;

use abi::{Errno, Timespec};

use crate::vfs::{FileOps, FileStat, OpenFlags};

/// A duplicate of one of the caller's descriptors: a terminal, pipe or file of the host
/// that the sandbox reads or writes as a stream.
pub struct HostStream {
    file: Mutex<std::fs::File>,
}

fn host_errno(e: std::io::Error) -> Errno {
    e.raw_os_error().map_or(Errno::EIO, Errno::new)
}

impl HostStream {
    pub fn from_fd(fd: impl AsFd) -> std::io::Result<HostStream> {
        let owned: OwnedFd = fd.as_fd().try_clone_to_owned()?;
        Ok(HostStream {
            file: Mutex::new(std::fs::File::from(owned)),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::fs::File> {
        self.file.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl FileOps for HostStream {
    fn read(&self, buf: &mut [u8], _pos: &mut i64, _flags: OpenFlags) -> Result<usize, Errno> {
        self.lock().read(buf).map_err(host_errno)
    }

    fn write(&self, buf: &[u8], _pos: &mut i64, _flags: OpenFlags) -> Result<usize, Errno> {
        self.lock().write(buf).map_err(host_errno)
    }

    fn stat(&self) -> Result<FileStat, Errno> {
        let m = self.lock().metadata().map_err(host_errno)?;
        let ft = m.file_type();
        // Programs compare identities (cat refuses to copy a file onto itself), so the host
        // object's device and inode numbers are passed through.
        let kind = if ft.is_char_device() {
            crate::vfs::S_IFCHR
        } else if ft.is_fifo() {
            crate::vfs::S_IFIFO
        } else if ft.is_socket() {
            crate::vfs::S_IFSOCK
        } else {
            crate::vfs::S_IFREG
        };
        let ts = |s: i64, n: i64| Timespec {
            tv_sec: s,
            tv_nsec: n,
        };
        Ok(FileStat {
            dev: m.dev(),
            ino: m.ino(),
            mode: kind | (m.mode() & 0o777),
            nlink: 1,
            uid: 0,
            gid: 0,
            rdev: if ft.is_char_device() { m.rdev() } else { 0 },
            size: if ft.is_file() { m.size() } else { 0 },
            blksize: 4096,
            blocks: 0,
            atime: ts(m.atime(), m.atime_nsec()),
            mtime: ts(m.mtime(), m.mtime_nsec()),
            ctime: ts(m.ctime(), m.ctime_nsec()),
        })
    }
}
