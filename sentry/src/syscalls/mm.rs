//! Memory: brk, mmap, munmap, mprotect, madvise.

use abi::Errno;
use abi::flags::{MapFlags, ProtFlags};

use super::int;
use crate::platform::Platform;
use crate::task::Task;

pub fn brk<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    Ok(task.mm().brk(a[0]))
}

pub fn mmap<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let prot = ProtFlags::from_bits(a[2] as u32).ok_or(Errno::EINVAL)?;
    let flags = MapFlags::from_bits_retain(a[3] as u32);
    if !flags.contains(MapFlags::ANONYMOUS) {
        // File mappings need the VFS.
        task.files.get(int(a[4]))?;
        return Err(Errno::ENODEV);
    }
    task.mm().mmap(a[0], a[1], prot, flags, None)
}

pub fn munmap<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    task.mm().munmap(a[0], a[1]).map(|()| 0)
}

pub fn mprotect<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let prot = ProtFlags::from_bits(a[2] as u32).ok_or(Errno::EINVAL)?;
    task.mm().mprotect(a[0], a[1], prot).map(|()| 0)
}

/// Advice is only advice, except MADV_DONTNEED (and FREE), whose pages read back as zero
/// (or the file's contents) afterwards.
pub fn madvise<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    const MADV_DONTNEED: u64 = 4;
    const MADV_FREE: u64 = 8;
    if !a[0].is_multiple_of(crate::mm::PAGE) {
        return Err(Errno::EINVAL);
    }
    if a[2] == MADV_DONTNEED || a[2] == MADV_FREE {
        task.mm().discard(a[0], a[1])?;
    }
    Ok(0)
}
