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

    /// A descriptor this process inherited (`--preserve-fds`), if it is open: the stream
    /// (a duplicate) and whether it may be read and written.
    pub fn inherited(fd: i32) -> std::io::Result<(HostStream, bool, bool)> {
        // SAFETY: F_GETFL only reads the status flags; an unused number gives EBADF.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        if flags < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` is open (F_GETFL succeeded) and stays open while this function
        // duplicates it; nothing here closes it.
        let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        let acc = flags & libc::O_ACCMODE;
        Ok((
            HostStream::from_fd(borrowed)?,
            acc != libc::O_WRONLY,
            acc != libc::O_RDONLY,
        ))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::fs::File> {
        self.file.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Wait until `file` is readable, checking every `TICK` whether the task must stop (a
/// host read on a terminal or pipe can block forever, and SIGINT must still get through).
fn wait_readable(file: &std::fs::File) -> Result<(), Errno> {
    use std::os::fd::AsRawFd;
    const TICK_MS: i32 = 50;
    loop {
        let mut pfd = libc::pollfd {
            fd: file.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `pfd` is one valid pollfd for the duration of the call; the descriptor is
        // owned by `file`, which outlives it.
        let n = unsafe { libc::poll(&mut pfd, 1, TICK_MS) };
        if n > 0 {
            return Ok(());
        }
        if n < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return Err(host_errno(std::io::Error::last_os_error()));
        }
        if crate::wait::interrupted() {
            return Err(crate::wait::ERESTARTSYS);
        }
    }
}

impl FileOps for HostStream {
    fn read(&self, buf: &mut [u8], _pos: &mut i64, flags: OpenFlags) -> Result<usize, Errno> {
        let mut file = self.lock();
        if !flags.contains(OpenFlags::NONBLOCK) {
            wait_readable(&file)?;
        }
        file.read(buf).map_err(host_errno)
    }

    fn write(&self, buf: &[u8], _pos: &mut i64, _flags: OpenFlags) -> Result<usize, Errno> {
        self.lock().write(buf).map_err(host_errno)
    }

    fn ioctl_buf(&self, cmd: u32, buf: &mut [u8]) -> Result<u64, Errno> {
        use std::os::fd::AsRawFd;
        // Only these requests reach the host, each with a buffer of the size it takes.
        const ALLOWED: &[(u32, usize)] = &[
            (0x5401, 36), // TCGETS
            (0x5402, 36), // TCSETS
            (0x5403, 36), // TCSETSW
            (0x5404, 36), // TCSETSF
            (0x5413, 8),  // TIOCGWINSZ
            (0x5414, 8),  // TIOCSWINSZ
            (0x541b, 4),  // FIONREAD
        ];
        if !ALLOWED.contains(&(cmd, buf.len())) {
            return Err(Errno::ENOTTY);
        }
        let file = self.lock();
        // SAFETY: `buf` is a live, writable buffer of the size the request reads or writes
        // (checked against the table above) and the descriptor is owned by `file`.
        let r = unsafe { libc::ioctl(file.as_raw_fd(), cmd as _, buf.as_mut_ptr()) };
        if r < 0 {
            return Err(host_errno(std::io::Error::last_os_error()));
        }
        Ok(r as u64)
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
