//! The memory file: one memfd that is the physical memory of every application.

use std::fs::File;
use std::os::fd::FromRawFd;

use vm_memory::FileOffset;

use crate::error::{Error, Result};
use crate::region::{HostRegion, host_memory};

/// A sparse memfd, mapped shared into the sentry and visible to the guest as one region.
pub struct MemoryFile {
    file: File,
    region: HostRegion,
}

impl MemoryFile {
    /// A memory file of `size` bytes (pages are only allocated when touched).
    pub fn new(size: u64) -> Result<MemoryFile> {
        let name = c"ringfence-memory";
        // SAFETY: `name` is a valid C string; the returned descriptor is checked and owned
        // by the `File` below from then on.
        let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(Error::MemoryFile(std::io::Error::last_os_error()));
        }
        // SAFETY: `fd` is a fresh descriptor nobody else owns.
        let file = unsafe { File::from_raw_fd(fd) };
        file.set_len(size).map_err(Error::MemoryFile)?;
        let map = vm_memory::mmap::MmapRegionBuilder::new(size as usize)
            .with_file_offset(FileOffset::new(
                file.try_clone().map_err(Error::MemoryFile)?,
                0,
            ))
            .with_mmap_prot(libc::PROT_READ | libc::PROT_WRITE)
            .with_mmap_flags(libc::MAP_SHARED | libc::MAP_NORESERVE)
            .build()
            .map_err(|e| host_memory("the memory file", size, e))?;
        Ok(MemoryFile {
            file,
            region: HostRegion::from_map(map),
        })
    }

    pub fn size(&self) -> u64 {
        self.region.size()
    }

    /// The memfd, for platforms that map it elsewhere (ptrace stubs).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Copy `data` into the file at `offset` (bounds-checked).
    pub fn write(&self, offset: u64, data: &[u8]) -> Result<()> {
        self.region.write(offset, data)
    }

    /// Copy from the file at `offset` into `data` (bounds-checked).
    pub fn read(&self, offset: u64, data: &mut [u8]) -> Result<()> {
        self.region.read(offset, data)
    }

    pub(crate) fn region(&self) -> &HostRegion {
        &self.region
    }

    pub(crate) fn region_mut(&mut self) -> &mut HostRegion {
        &mut self.region
    }
}
