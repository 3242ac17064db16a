//! Host memory the guest can see: an mmap of the sentry's, placed at a guest-physical
//! address by the physical map.

use vm_memory::{Bytes, MmapRegion, VolatileMemory};

use crate::error::{Error, Result};

/// One host mapping registered as a KVM memory slot.
pub struct HostRegion {
    map: MmapRegion,
    gpa: u64,
}

impl HostRegion {
    /// Anonymous, lazily backed memory of `size` bytes (rounded to pages).
    pub(crate) fn anonymous(what: &'static str, size: u64) -> Result<HostRegion> {
        let map = vm_memory::mmap::MmapRegionBuilder::new(size as usize)
            .with_mmap_prot(libc::PROT_READ | libc::PROT_WRITE)
            .with_mmap_flags(libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE)
            .build()
            .map_err(|e| host_memory(what, size, e))?;
        Ok(HostRegion { map, gpa: 0 })
    }

    pub(crate) fn from_map(map: MmapRegion) -> HostRegion {
        HostRegion { map, gpa: 0 }
    }

    pub(crate) fn set_gpa(&mut self, gpa: u64) {
        self.gpa = gpa;
    }

    /// Guest-physical address of the first byte.
    pub fn gpa(&self) -> u64 {
        self.gpa
    }

    pub fn size(&self) -> u64 {
        self.map.size() as u64
    }

    pub(crate) fn host_ptr(&self) -> *mut u8 {
        self.map.as_ptr()
    }

    /// Whether guest-physical `gpa` falls inside this region.
    pub fn contains_gpa(&self, gpa: u64) -> bool {
        gpa >= self.gpa && gpa - self.gpa < self.size()
    }

    pub fn write(&self, offset: u64, data: &[u8]) -> Result<()> {
        self.map
            .as_volatile_slice()
            .write_slice(data, offset as usize)
            .map_err(|_| out_of_range(offset, data.len()))
    }

    pub fn read(&self, offset: u64, data: &mut [u8]) -> Result<()> {
        self.map
            .as_volatile_slice()
            .read_slice(data, offset as usize)
            .map_err(|_| out_of_range(offset, data.len()))
    }

    pub fn write_u64(&self, offset: u64, value: u64) -> Result<()> {
        self.map
            .as_volatile_slice()
            .write_obj(value, offset as usize)
            .map_err(|_| out_of_range(offset, 8))
    }

    pub fn read_u64(&self, offset: u64) -> Result<u64> {
        self.map
            .as_volatile_slice()
            .read_obj(offset as usize)
            .map_err(|_| out_of_range(offset, 8))
    }
}

fn out_of_range(offset: u64, len: usize) -> Error {
    Error::InvalidRange {
        addr: offset,
        len: len as u64,
        why: "outside the host region",
    }
}

pub(crate) fn host_memory(what: &'static str, size: u64, e: impl std::fmt::Display) -> Error {
    Error::HostMemory {
        what,
        size,
        source: std::io::Error::other(e.to_string()),
    }
}
