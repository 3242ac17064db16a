//! File descriptions ([`OpenFile`]) and the operations behind them ([`FileOps`]).
//!
//! An `OpenFile` is what `open` creates and descriptors share after `dup` and `fork`: access
//! mode, status flags, offset. Its behaviour comes from a `FileOps` object, which regular
//! files, directories and devices here, and pipes, sockets, eventfds or epoll elsewhere,
//! implement.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use abi::Errno;
use abi::poll::PollEvents;

use super::OpenFlags;
use super::inode::SetAttr;
use super::lock;
use super::mount::Location;
use super::stat::{FileStat, FileType, now};

pub const SEEK_SET: i32 = 0;
pub const SEEK_CUR: i32 = 1;
pub const SEEK_END: i32 = 2;
pub const SEEK_DATA: i32 = 3;
pub const SEEK_HOLE: i32 = 4;

/// The largest file offset (Linux's `MAX_LFS_FILESIZE` on 64-bit).
pub const MAX_OFFSET: i64 = i64::MAX;

/// `lseek`'s `whence`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Whence {
    Set,
    Cur,
    End,
    /// The next offset holding data (`ENXIO` past the end).
    Data,
    /// The next hole; the end of the file counts as one.
    Hole,
}

impl Whence {
    /// Decodes a raw `whence` (`EINVAL` if unknown).
    pub fn from_raw(raw: i32) -> Result<Whence, Errno> {
        Ok(match raw {
            SEEK_SET => Whence::Set,
            SEEK_CUR => Whence::Cur,
            SEEK_END => Whence::End,
            SEEK_DATA => Whence::Data,
            SEEK_HOLE => Whence::Hole,
            _ => return Err(Errno::EINVAL),
        })
    }
}

/// The poll mask of a file that never blocks (Linux's `DEFAULT_POLLMASK`).
pub const DEFAULT_POLLMASK: PollEvents = PollEvents::POLLIN
    .union(PollEvents::POLLOUT)
    .union(PollEvents::POLLRDNORM)
    .union(PollEvents::POLLWRNORM);

/// The operations of one kind of open file. The [`OpenFile`] has checked the access mode and
/// holds the offset lock around `read`, `write`, `seek` and `getdents`. Defaults are what Linux
/// does for a file without the operation.
pub trait FileOps: Send + Sync {
    /// Reads at `*pos` and advances it (a stream ignores it).
    fn read(&self, buf: &mut [u8], pos: &mut i64, flags: OpenFlags) -> Result<usize, Errno> {
        let _ = (buf, pos, flags);
        Err(Errno::EINVAL)
    }

    /// Writes at `*pos` (at the end if `flags` has `O_APPEND`) and advances it.
    fn write(&self, buf: &[u8], pos: &mut i64, flags: OpenFlags) -> Result<usize, Errno> {
        let _ = (buf, pos, flags);
        Err(Errno::EINVAL)
    }

    /// Reads at `offset` (never negative) without moving the file offset.
    fn pread(&self, buf: &mut [u8], offset: i64) -> Result<usize, Errno> {
        let _ = (buf, offset);
        Err(Errno::ESPIPE)
    }

    /// Writes at `offset` (Linux appends anyway under `O_APPEND`).
    fn pwrite(&self, buf: &[u8], offset: i64, flags: OpenFlags) -> Result<usize, Errno> {
        let _ = (buf, offset, flags);
        Err(Errno::ESPIPE)
    }

    /// The new offset for `lseek(offset, whence)` from `pos`.
    fn seek(&self, pos: i64, offset: i64, whence: Whence) -> Result<i64, Errno> {
        let _ = (pos, offset, whence);
        Err(Errno::ESPIPE)
    }

    /// The file's metadata (`fstat`).
    fn stat(&self) -> Result<FileStat, Errno>;

    /// Fills `buf` with `linux_dirent64` records from `*pos` on and advances it; 0 at the end.
    fn getdents(&self, buf: &mut [u8], pos: &mut i64) -> Result<usize, Errno> {
        let _ = (buf, pos);
        Err(Errno::ENOTDIR)
    }

    /// A device-specific request. Commands whose argument points into user memory are
    /// decoded by the syscall layer before they get here.
    fn ioctl(&self, cmd: u32, arg: u64) -> Result<u64, Errno> {
        let _ = (cmd, arg);
        Err(Errno::ENOTTY)
    }

    /// A terminal request whose argument is a structure of `buf.len()` bytes, already copied
    /// in (for requests that read it) and copied out afterwards (for requests that fill it).
    /// Only terminals have these.
    fn ioctl_buf(&self, cmd: u32, buf: &mut [u8]) -> Result<u64, Errno> {
        let _ = (cmd, buf);
        Err(Errno::ENOTTY)
    }

    /// The events of `mask` that are ready now (for poll, select and epoll).
    fn readiness(&self, mask: PollEvents) -> PollEvents {
        mask & DEFAULT_POLLMASK
    }

    /// Where waiters for this file's readiness sleep; `None` for files that never block.
    fn wait_queue(&self) -> Option<&crate::wait::WaitQueue> {
        None
    }

    /// The concrete type, for syscalls that only work on one kind of file (epoll_ctl).
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }

    /// Called on each `close` of a descriptor for this file; its error is `close`'s.
    fn flush(&self) -> Result<(), Errno> {
        Ok(())
    }

    /// Called once, when the last reference to the file description goes away.
    fn release(&self) {}
}

/// The new position of a seek in a file of `size` bytes whose data and holes are unknown
/// (all data): the usual rules, with `EINVAL` for a negative result and `ENXIO` for
/// `SEEK_DATA`/`SEEK_HOLE` at or past the end.
pub fn generic_seek(pos: i64, offset: i64, whence: Whence, size: u64) -> Result<i64, Errno> {
    let size = i64::try_from(size).map_err(|_| Errno::EOVERFLOW)?;
    let new = match whence {
        Whence::Set => Some(offset),
        Whence::Cur => pos.checked_add(offset),
        Whence::End => size.checked_add(offset),
        Whence::Data | Whence::Hole => {
            if offset < 0 || offset >= size {
                return Err(Errno::ENXIO);
            }
            Some(if whence == Whence::Data { offset } else { size })
        }
    };
    match new {
        Some(n) if n >= 0 => Ok(n),
        // Linux computes in loff_t, where an overflow wraps negative.
        _ => Err(Errno::EINVAL),
    }
}

/// Status flags `F_SETFL` may change (Linux's `SETFL_MASK`).
pub fn setfl_mask() -> OpenFlags {
    OpenFlags::APPEND
        | OpenFlags::NONBLOCK
        | OpenFlags::ASYNC
        | OpenFlags::DIRECT
        | OpenFlags::NOATIME
}

/// An open file description.
pub struct OpenFile {
    location: Option<Location>,
    readable: bool,
    writable: bool,
    /// Opened with `O_PATH`: names a file without granting I/O.
    path_only: bool,
    /// Access mode and status flags, as `F_GETFL` reports them.
    flags: AtomicU32,
    offset: Mutex<i64>,
    ops: Box<dyn FileOps>,
}

impl OpenFile {
    /// A file description with the given operations. `flags` holds the access mode and
    /// status flags; creation flags and `O_CLOEXEC` (a descriptor flag) are dropped.
    /// `location` is `None` for files outside the tree (pipes, sockets, eventfds).
    pub fn new(location: Option<Location>, flags: OpenFlags, ops: Box<dyn FileOps>) -> OpenFile {
        let path_only = flags.contains(OpenFlags::PATH);
        let acc = flags.access_mode();
        let kept = flags
            - (OpenFlags::CREAT
                | OpenFlags::EXCL
                | OpenFlags::NOCTTY
                | OpenFlags::TRUNC
                | OpenFlags::CLOEXEC);
        OpenFile {
            location,
            readable: !path_only
                && (acc == abi::flags::open::O_RDONLY || acc == abi::flags::open::O_RDWR),
            writable: !path_only
                && (acc == abi::flags::open::O_WRONLY || acc == abi::flags::open::O_RDWR),
            path_only,
            flags: AtomicU32::new(kept.bits()),
            offset: Mutex::new(0),
            ops,
        }
    }

    /// Where the file is in the tree, if it is.
    pub fn location(&self) -> Option<&Location> {
        self.location.as_ref()
    }

    pub fn ops(&self) -> &dyn FileOps {
        self.ops.as_ref()
    }

    pub fn is_readable(&self) -> bool {
        self.readable
    }

    pub fn is_writable(&self) -> bool {
        self.writable
    }

    /// Whether this is an `O_PATH` description.
    pub fn is_path_only(&self) -> bool {
        self.path_only
    }

    /// `F_GETFL`: the access mode and status flags.
    pub fn flags(&self) -> OpenFlags {
        OpenFlags::from_bits_retain(self.flags.load(Ordering::Acquire))
    }

    /// `F_SETFL`: replaces the changeable status flags ([`setfl_mask`]), ignoring the rest.
    pub fn set_flags(&self, new: OpenFlags) -> Result<(), Errno> {
        if self.path_only {
            return Err(Errno::EBADF);
        }
        let mask = setfl_mask();
        let _ = self
            .flags
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |old| {
                Some(((OpenFlags::from_bits_retain(old) - mask) | (new & mask)).bits())
            });
        Ok(())
    }

    /// The current offset.
    pub fn offset(&self) -> i64 {
        *lock(&self.offset)
    }

    fn check_read(&self) -> Result<(), Errno> {
        if self.readable {
            Ok(())
        } else {
            Err(Errno::EBADF)
        }
    }

    fn check_write(&self) -> Result<(), Errno> {
        if self.writable {
            Ok(())
        } else {
            Err(Errno::EBADF)
        }
    }

    /// `read`: at the file offset, which advances.
    pub fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        self.check_read()?;
        let mut pos = lock(&self.offset);
        self.ops.read(buf, &mut pos, self.flags())
    }

    /// `readv`: fills the buffers in order while the file offset is held, stopping at the
    /// first short read; an error after some bytes were read is dropped, as Linux does.
    pub fn read_vectored(&self, bufs: &mut [&mut [u8]]) -> Result<usize, Errno> {
        self.check_read()?;
        let mut pos = lock(&self.offset);
        let flags = self.flags();
        each_buffer(bufs.iter_mut(), |buf, _| {
            self.ops.read(buf, &mut pos, flags)
        })
    }

    /// `write`: at the file offset (or the end under `O_APPEND`), which advances.
    pub fn write(&self, buf: &[u8]) -> Result<usize, Errno> {
        self.check_write()?;
        let mut pos = lock(&self.offset);
        self.ops.write(buf, &mut pos, self.flags())
    }

    /// `writev`: writes the buffers in order while the file offset is held.
    pub fn write_vectored(&self, bufs: &[&[u8]]) -> Result<usize, Errno> {
        self.check_write()?;
        let mut pos = lock(&self.offset);
        let flags = self.flags();
        each_buffer(bufs.iter(), |buf, _| self.ops.write(buf, &mut pos, flags))
    }

    /// `pread`: at `offset`, leaving the file offset alone.
    pub fn pread(&self, buf: &mut [u8], offset: i64) -> Result<usize, Errno> {
        // Linux rejects a negative offset before looking at the file.
        if offset < 0 {
            return Err(Errno::EINVAL);
        }
        self.check_read()?;
        self.ops.pread(buf, offset)
    }

    /// `preadv`: fills the buffers in order from `offset`.
    pub fn pread_vectored(&self, bufs: &mut [&mut [u8]], offset: i64) -> Result<usize, Errno> {
        if offset < 0 {
            return Err(Errno::EINVAL);
        }
        self.check_read()?;
        each_buffer(bufs.iter_mut(), |buf, done| {
            self.ops.pread(buf, offset_after(offset, done)?)
        })
    }

    /// `pwrite`: at `offset`, leaving the file offset alone.
    pub fn pwrite(&self, buf: &[u8], offset: i64) -> Result<usize, Errno> {
        if offset < 0 {
            return Err(Errno::EINVAL);
        }
        self.check_write()?;
        self.ops.pwrite(buf, offset, self.flags())
    }

    /// `pwritev`: writes the buffers in order from `offset`.
    pub fn pwrite_vectored(&self, bufs: &[&[u8]], offset: i64) -> Result<usize, Errno> {
        if offset < 0 {
            return Err(Errno::EINVAL);
        }
        self.check_write()?;
        let flags = self.flags();
        each_buffer(bufs.iter(), |buf, done| {
            self.ops.pwrite(buf, offset_after(offset, done)?, flags)
        })
    }

    /// `lseek`: sets and returns the new offset.
    pub fn seek(&self, offset: i64, whence: i32) -> Result<i64, Errno> {
        if self.path_only {
            return Err(Errno::EBADF);
        }
        let whence = Whence::from_raw(whence)?;
        let mut pos = lock(&self.offset);
        let new = self.ops.seek(*pos, offset, whence)?;
        *pos = new;
        Ok(new)
    }

    /// `fstat`.
    pub fn stat(&self) -> Result<FileStat, Errno> {
        self.ops.stat()
    }

    /// `getdents64` into `buf`; 0 at the end of the directory.
    pub fn getdents64(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        if self.path_only {
            return Err(Errno::EBADF);
        }
        let mut pos = lock(&self.offset);
        self.ops.getdents(buf, &mut pos)
    }

    /// `ftruncate`: `EINVAL` unless a regular file open for writing, or for a negative length.
    pub fn truncate(&self, len: i64) -> Result<(), Errno> {
        if self.path_only {
            return Err(Errno::EBADF);
        }
        let size = u64::try_from(len).map_err(|_| Errno::EINVAL)?;
        let loc = self.location.as_ref().ok_or(Errno::EINVAL)?;
        if !self.writable || loc.file_type() != FileType::Regular {
            return Err(Errno::EINVAL);
        }
        let t = now();
        loc.inode().setattr(&SetAttr {
            size: Some(size),
            mtime: Some(t),
            ..SetAttr::default()
        })
    }

    /// `ioctl`.
    pub fn ioctl(&self, cmd: u32, arg: u64) -> Result<u64, Errno> {
        if self.path_only {
            return Err(Errno::EBADF);
        }
        self.ops.ioctl(cmd, arg)
    }

    /// `ioctl` with a structure argument (see [`FileOps::ioctl_buf`]).
    pub fn ioctl_buf(&self, cmd: u32, buf: &mut [u8]) -> Result<u64, Errno> {
        if self.path_only {
            return Err(Errno::EBADF);
        }
        self.ops.ioctl_buf(cmd, buf)
    }

    /// The ready events among `mask` (`POLLNVAL` for an `O_PATH` file).
    pub fn readiness(&self, mask: PollEvents) -> PollEvents {
        if self.path_only {
            return PollEvents::POLLNVAL;
        }
        self.ops.readiness(mask)
    }

    /// Called by the descriptor table on each `close`.
    pub fn flush(&self) -> Result<(), Errno> {
        if self.path_only {
            return Ok(());
        }
        self.ops.flush()
    }
}

impl Drop for OpenFile {
    fn drop(&mut self) {
        self.ops.release();
    }
}

impl std::fmt::Debug for OpenFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenFile")
            .field("location", &self.location)
            .field("flags", &self.flags())
            .finish_non_exhaustive()
    }
}

/// The operations of an `O_PATH` file: only `fstat` works, the rest is refused by
/// [`OpenFile`] before it gets here.
pub(crate) struct PathOps {
    pub(crate) inode: std::sync::Arc<dyn super::inode::Inode>,
}

impl FileOps for PathOps {
    fn stat(&self) -> Result<FileStat, Errno> {
        self.inode.stat()
    }
}

/// The vectored I/O loop: `op(buffer, bytes done so far)` on each buffer in order, stopping
/// at the first short transfer; an error after some bytes moved is dropped, as Linux does.
fn each_buffer<B: AsRef<[u8]>>(
    bufs: impl Iterator<Item = B>,
    mut op: impl FnMut(B, usize) -> Result<usize, Errno>,
) -> Result<usize, Errno> {
    let mut total = 0;
    for buf in bufs {
        let len = buf.as_ref().len();
        match op(buf, total) {
            Ok(n) => {
                total += n;
                if n < len {
                    break;
                }
            }
            Err(e) if total == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(total)
}

/// `offset + done`, or EINVAL past the largest offset.
fn offset_after(offset: i64, done: usize) -> Result<i64, Errno> {
    i64::try_from(done)
        .ok()
        .and_then(|d| offset.checked_add(d))
        .ok_or(Errno::EINVAL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seek_rules() {
        assert_eq!(generic_seek(5, 3, Whence::Set, 10), Ok(3));
        assert_eq!(generic_seek(5, -2, Whence::Cur, 10), Ok(3));
        assert_eq!(generic_seek(5, 4, Whence::End, 10), Ok(14));
        assert_eq!(generic_seek(5, -11, Whence::End, 10), Err(Errno::EINVAL));
        assert_eq!(generic_seek(5, -1, Whence::Set, 10), Err(Errno::EINVAL));
        assert_eq!(
            generic_seek(i64::MAX, 1, Whence::Cur, 10),
            Err(Errno::EINVAL)
        );
        assert_eq!(generic_seek(0, 3, Whence::Data, 10), Ok(3));
        assert_eq!(generic_seek(0, 3, Whence::Hole, 10), Ok(10));
        assert_eq!(generic_seek(0, 10, Whence::Data, 10), Err(Errno::ENXIO));
        assert_eq!(Whence::from_raw(5), Err(Errno::EINVAL));
    }
}
