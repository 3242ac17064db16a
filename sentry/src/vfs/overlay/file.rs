//! Open regular files of the overlay: lower data until the file is copied up, upper data after.

use std::sync::Arc;

use abi::Errno;

use super::node::OvNode;
use crate::host::HostFile;
use crate::vfs::OpenFlags;
use crate::vfs::file::{FileOps, Whence, generic_seek};
use crate::vfs::stat::FileStat;
use crate::vfs::tmpfs::{mem_pwrite, mem_read, mem_seek, mem_write};

pub(super) struct OvFileOps {
    node: Arc<OvNode>,
    /// The host file, for a description opened before any copy-up. Reads switch to the upper
    /// data as soon as there is one, so every description sees the same contents.
    lower: Option<HostFile>,
}

impl OvFileOps {
    pub(super) fn new(node: Arc<OvNode>, lower: Option<HostFile>) -> OvFileOps {
        OvFileOps { node, lower }
    }

    fn lower_read(&self, buf: &mut [u8], off: i64) -> Result<usize, Errno> {
        let off = u64::try_from(off).map_err(|_| Errno::EINVAL)?;
        match &self.lower {
            Some(f) => f.read_full_at(buf, off),
            None => Err(Errno::EIO),
        }
    }
}

impl FileOps for OvFileOps {
    fn read(&self, buf: &mut [u8], pos: &mut i64, _flags: OpenFlags) -> Result<usize, Errno> {
        if let Some(up) = self.node.upper() {
            return mem_read(up, buf, pos);
        }
        let n = self.lower_read(buf, *pos)?;
        *pos += n as i64;
        Ok(n)
    }

    fn write(&self, buf: &[u8], pos: &mut i64, flags: OpenFlags) -> Result<usize, Errno> {
        // Opening for writing copied the file up.
        let up = self.node.upper().ok_or(Errno::EBADF)?;
        mem_write(up, buf, pos, flags)
    }

    fn pread(&self, buf: &mut [u8], off: i64) -> Result<usize, Errno> {
        match self.node.upper() {
            Some(up) => up.read_at(buf, u64::try_from(off).map_err(|_| Errno::EINVAL)?),
            None => self.lower_read(buf, off),
        }
    }

    fn pwrite(&self, buf: &[u8], off: i64, flags: OpenFlags) -> Result<usize, Errno> {
        let up = self.node.upper().ok_or(Errno::EBADF)?;
        mem_pwrite(up, buf, off, flags)
    }

    fn seek(&self, pos: i64, off: i64, whence: Whence) -> Result<i64, Errno> {
        match self.node.upper() {
            Some(up) => mem_seek(up, pos, off, whence),
            None => generic_seek(pos, off, whence, self.node.stat_node()?.size),
        }
    }

    fn stat(&self) -> Result<FileStat, Errno> {
        self.node.stat_node()
    }
}
