//! Open regular files of a bind mount: reads and writes go straight to the host file at the
//! description's offset (the host descriptor's own offset is never used).

use std::sync::Arc;

use abi::Errno;

use super::HostInode;
use crate::host::HostFile;
use crate::vfs::OpenFlags;
use crate::vfs::file::{FileOps, Whence, generic_seek};
use crate::vfs::stat::FileStat;

pub(super) struct HostFileOps {
    inode: Arc<HostInode>,
    data: HostFile,
}

impl HostFileOps {
    pub(super) fn new(inode: Arc<HostInode>, data: HostFile) -> HostFileOps {
        HostFileOps { inode, data }
    }

    fn offset(off: i64) -> Result<u64, Errno> {
        u64::try_from(off).map_err(|_| Errno::EINVAL)
    }

    /// Where a write at `off` lands: the current end of the host file under `O_APPEND`.
    fn write_offset(&self, off: i64, flags: OpenFlags) -> Result<u64, Errno> {
        if flags.contains(OpenFlags::APPEND) {
            Ok(self.inode.stat_now()?.size)
        } else {
            Self::offset(off)
        }
    }
}

impl FileOps for HostFileOps {
    fn read(&self, buf: &mut [u8], pos: &mut i64, _flags: OpenFlags) -> Result<usize, Errno> {
        let n = self.data.read_at(buf, Self::offset(*pos)?)?;
        *pos += n as i64;
        Ok(n)
    }

    fn write(&self, buf: &[u8], pos: &mut i64, flags: OpenFlags) -> Result<usize, Errno> {
        let at = self.write_offset(*pos, flags)?;
        let n = self.data.write_at(buf, at)?;
        *pos = i64::try_from(at + n as u64).map_err(|_| Errno::EFBIG)?;
        Ok(n)
    }

    fn pread(&self, buf: &mut [u8], off: i64) -> Result<usize, Errno> {
        self.data.read_at(buf, Self::offset(off)?)
    }

    fn pwrite(&self, buf: &[u8], off: i64, flags: OpenFlags) -> Result<usize, Errno> {
        let at = self.write_offset(off, flags)?;
        self.data.write_at(buf, at)
    }

    fn seek(&self, pos: i64, off: i64, whence: Whence) -> Result<i64, Errno> {
        generic_seek(pos, off, whence, self.inode.stat_now()?.size)
    }

    fn stat(&self) -> Result<FileStat, Errno> {
        self.inode.stat_now()
    }
}
