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
    if flags.contains(MapFlags::ANONYMOUS) {
        return task.mm().mmap(a[0], a[1], prot, flags, None);
    }
    let file = task.fds.get(int(a[4]))?;
    let st = file.stat()?;
    // Linux: EACCES for a file not open for reading (or a shared writable mapping of a file
    // not open for writing), ENODEV for files without mmap (directories, streams).
    if !file.is_readable()
        || flags.contains(MapFlags::SHARED)
            && prot.contains(ProtFlags::WRITE)
            && !file.is_writable()
    {
        return Err(Errno::EACCES);
    }
    if st.file_type() != Some(crate::vfs::FileType::Regular) {
        return Err(Errno::ENODEV);
    }
    let name: std::sync::Arc<str> = match file.location() {
        Some(loc) => {
            let ctx = task.fs().clone();
            String::from_utf8_lossy(&task.kernel.vfs.path_of(&ctx, loc)).into()
        }
        None => "".into(),
    };
    let source = std::sync::Arc::new(crate::exec::FileImage(file));
    task.mm()
        .mmap(a[0], a[1], prot, flags, Some((source, a[5], name)))
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

/// `msync`: shared file mappings write their pages back to the file.
pub fn msync<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    const MS_ASYNC: u64 = 1;
    const MS_INVALIDATE: u64 = 2;
    const MS_SYNC: u64 = 4;
    if !a[0].is_multiple_of(crate::mm::PAGE)
        || a[2] & !(MS_ASYNC | MS_INVALIDATE | MS_SYNC) != 0
        || a[2] & MS_ASYNC != 0 && a[2] & MS_SYNC != 0
    {
        return Err(Errno::EINVAL);
    }
    let end = a[0]
        .checked_add(crate::mm::page_up(a[1]).ok_or(Errno::ENOMEM)?)
        .ok_or(Errno::ENOMEM)?;
    task.mm().writeback(a[0], end)?;
    Ok(0)
}

/// `mremap(old, old_size, new_size, flags, new_addr)`.
pub fn mremap<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    task.mm().mremap(a[0], a[1], a[2], a[3], a[4])
}
