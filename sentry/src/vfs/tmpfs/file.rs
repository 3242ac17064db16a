//! Open regular files whose data is in memory.

use std::sync::Arc;

use abi::Errno;

use super::node::TmpNode;
use crate::vfs::OpenFlags;
use crate::vfs::file::{FileOps, Whence, generic_seek};
use crate::vfs::stat::FileStat;

/// The operations of an open tmpfs regular file. The `mem_*` functions serve the overlay's
/// copied-up files too.
pub(crate) struct MemFileOps {
    node: Arc<TmpNode>,
}

impl MemFileOps {
    pub(crate) fn new(node: Arc<TmpNode>) -> MemFileOps {
        MemFileOps { node }
    }
}

/// Converts a non-negative file offset.
fn offset(pos: i64) -> Result<u64, Errno> {
    u64::try_from(pos).map_err(|_| Errno::EINVAL)
}

/// Advances `pos` past `n` bytes written or read at `at`.
fn advance(at: u64, n: usize) -> Result<i64, Errno> {
    i64::try_from(at + n as u64).map_err(|_| Errno::EFBIG)
}

/// `read` for in-memory data.
pub(crate) fn mem_read(node: &TmpNode, buf: &mut [u8], pos: &mut i64) -> Result<usize, Errno> {
    let at = offset(*pos)?;
    let n = node.read_at(buf, at)?;
    *pos = advance(at, n)?;
    Ok(n)
}

/// `write` for in-memory data, appending under `O_APPEND`.
pub(crate) fn mem_write(
    node: &TmpNode,
    buf: &[u8],
    pos: &mut i64,
    flags: OpenFlags,
) -> Result<usize, Errno> {
    let at = if flags.contains(OpenFlags::APPEND) {
        None
    } else {
        Some(offset(*pos)?)
    };
    let (at, n) = node.write_at(buf, at)?;
    *pos = advance(at, n)?;
    Ok(n)
}

/// `pwrite` for in-memory data (Linux appends under `O_APPEND` whatever the offset).
pub(crate) fn mem_pwrite(
    node: &TmpNode,
    buf: &[u8],
    off: i64,
    flags: OpenFlags,
) -> Result<usize, Errno> {
    let at = if flags.contains(OpenFlags::APPEND) {
        None
    } else {
        Some(offset(off)?)
    };
    node.write_at(buf, at).map(|(_, n)| n)
}

/// `lseek` for in-memory data, with real `SEEK_DATA`/`SEEK_HOLE` answers.
pub(crate) fn mem_seek(node: &TmpNode, pos: i64, off: i64, whence: Whence) -> Result<i64, Errno> {
    let size = node.size()?;
    match whence {
        Whence::Data | Whence::Hole => {
            let start = u64::try_from(off).map_err(|_| Errno::ENXIO)?;
            if start >= size {
                return Err(Errno::ENXIO);
            }
            let at = if whence == Whence::Data {
                node.next_data(start)?.ok_or(Errno::ENXIO)?
            } else {
                node.next_hole(start)?
            };
            i64::try_from(at).map_err(|_| Errno::EOVERFLOW)
        }
        _ => generic_seek(pos, off, whence, size),
    }
}

impl FileOps for MemFileOps {
    fn read(&self, buf: &mut [u8], pos: &mut i64, _flags: OpenFlags) -> Result<usize, Errno> {
        mem_read(&self.node, buf, pos)
    }

    fn write(&self, buf: &[u8], pos: &mut i64, flags: OpenFlags) -> Result<usize, Errno> {
        mem_write(&self.node, buf, pos, flags)
    }

    fn pread(&self, buf: &mut [u8], off: i64) -> Result<usize, Errno> {
        self.node.read_at(buf, offset(off)?)
    }

    fn pwrite(&self, buf: &[u8], off: i64, flags: OpenFlags) -> Result<usize, Errno> {
        mem_pwrite(&self.node, buf, off, flags)
    }

    fn seek(&self, pos: i64, off: i64, whence: Whence) -> Result<i64, Errno> {
        mem_seek(&self.node, pos, off, whence)
    }

    fn stat(&self) -> Result<FileStat, Errno> {
        Ok(self.node.stat())
    }
}
