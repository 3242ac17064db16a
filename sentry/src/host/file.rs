//! A host file opened for its data.

use std::os::fd::{AsRawFd, OwnedFd};

use abi::Errno;

use super::last_errno;

/// A host regular file, read with `pread` and written with `pwrite` only (no shared offset).
#[derive(Debug)]
pub struct HostFile {
    fd: OwnedFd,
}

impl HostFile {
    pub(super) fn new(fd: OwnedFd) -> HostFile {
        HostFile { fd }
    }

    pub(super) fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// Reads up to `buf.len()` bytes at `offset`; a short count means end of file.
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        let off = i64::try_from(offset).map_err(|_| Errno::EINVAL)?;
        loop {
            // SAFETY: `buf` is a live, writable buffer of `buf.len()` bytes for the whole call
            // and `self.fd` is an open descriptor owned by `self`.
            let n = unsafe {
                libc::pread(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), off)
            };
            if n >= 0 {
                return Ok(n.unsigned_abs());
            }
            let e = last_errno();
            if e != Errno::EINTR {
                return Err(e);
            }
        }
    }

    /// Fills `buf` from `offset` as far as the file goes and returns the count read.
    pub fn read_full_at(&self, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        let mut done = 0;
        while done < buf.len() {
            let n = self.read_at(&mut buf[done..], offset + done as u64)?;
            if n == 0 {
                break;
            }
            done += n;
        }
        Ok(done)
    }
}
