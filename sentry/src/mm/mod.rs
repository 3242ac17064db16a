//! Memory management: the application's address space as VMAs and present pages, backed by
//! the memory file. Platform mappings are only a cache of `pages`: dropping them is always
//! safe, a fault puts them back.

mod frames;
mod vma;

use std::collections::BTreeMap;
use std::sync::Arc;

use abi::Errno;
use abi::flags::{MapFlags, ProtFlags};

pub use frames::{Frames, PAGE};
pub use vma::{Backing, FileSource, Vma, Vmas, page_up};

use crate::platform::{self, Access, AddressSpace, Perms, Platform};

/// Why an access could not be satisfied: the two SIGSEGV codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Segv {
    /// No mapping there (SEGV_MAPERR).
    MapErr,
    /// A mapping without the needed permission (SEGV_ACCERR).
    AccErr,
}

struct Page {
    frame: u64,
    /// The page may be mapped writable: it is not (or no longer) shared copy-on-write.
    exclusive: bool,
}

/// One application address space.
pub struct MemoryManager<P: Platform> {
    platform: Arc<P>,
    frames: Arc<Frames>,
    space: Arc<P::AddressSpace>,
    vmas: Vmas,
    pages: BTreeMap<u64, Page>,
    brk_base: u64,
    brk: u64,
    /// New mappings without a fixed address go below this.
    mmap_top: u64,
}

/// Top of the area for mappings placed by the kernel, below the stack's reservation.
pub const MMAP_TOP: u64 = 0x7f00_0000_0000;
/// Lowest address handed out for hint-less mappings.
const MMAP_FLOOR: u64 = 0x1_0000_0000;

fn perms(prot: ProtFlags, writable: bool) -> Perms {
    let mut p = Perms::empty();
    if prot.intersects(ProtFlags::READ | ProtFlags::WRITE | ProtFlags::EXEC) {
        p |= Perms::READ;
    }
    if writable && prot.contains(ProtFlags::WRITE) {
        p |= Perms::WRITE;
    }
    if prot.contains(ProtFlags::EXEC) {
        p |= Perms::EXECUTE;
    }
    p
}

fn allows(prot: ProtFlags, access: Access) -> bool {
    match access {
        // x86 cannot map write- or execute-only: both imply read, as on Linux.
        Access::Read => prot.intersects(ProtFlags::READ | ProtFlags::WRITE | ProtFlags::EXEC),
        Access::Write => prot.contains(ProtFlags::WRITE),
        Access::Execute => prot.contains(ProtFlags::EXEC),
    }
}

fn platform_err(e: platform::PlatformError) -> Errno {
    tracing::warn!("platform: {e}");
    Errno::ENOMEM
}

impl<P: Platform> MemoryManager<P> {
    pub fn new(platform: Arc<P>, frames: Arc<Frames>) -> Result<Self, Errno> {
        let space = platform.new_address_space().map_err(platform_err)?;
        Ok(MemoryManager {
            platform,
            frames,
            space: Arc::new(space),
            vmas: Vmas::default(),
            pages: BTreeMap::new(),
            brk_base: 0,
            brk: 0,
            mmap_top: MMAP_TOP,
        })
    }

    /// The platform address space, to switch to without holding the memory manager.
    pub fn space(&self) -> Arc<P::AddressSpace> {
        self.space.clone()
    }

    pub fn vmas(&self) -> &Vmas {
        &self.vmas
    }

    /// Resident pages (for statistics).
    pub fn resident(&self) -> usize {
        self.pages.len()
    }

    /// The application address range of the platform.
    pub fn user_range(&self) -> (u64, u64) {
        self.platform.user_range()
    }

    /// Where hint-less mappings go from now on (below the stack and the interpreter).
    pub fn set_mmap_top(&mut self, top: u64) {
        self.mmap_top = top;
    }

    /// Write `data` at `addr` whatever the mapping's protection, as the kernel does when it
    /// loads a program (zeroing the bss tail of a read-only page). EFAULT where unmapped.
    pub fn poke(&mut self, addr: u64, data: &[u8]) -> Result<(), Errno> {
        let end = addr.checked_add(data.len() as u64).ok_or(Errno::EFAULT)?;
        let mut at = addr;
        while at < end {
            let page_addr = at & !(PAGE - 1);
            let (_, vma) = self.vmas.find(at).ok_or(Errno::EFAULT)?;
            let (prot, shared) = (vma.prot, vma.shared);
            // Fault the page in as if writable, without changing the mapping's protection.
            if let Some(v) = self.vmas.find_mut(at) {
                v.prot = prot | ProtFlags::READ | ProtFlags::WRITE;
            }
            let faulted = self.fault(at, Access::Write);
            if let Some(v) = self.vmas.find_mut(at) {
                v.prot = prot;
            }
            faulted.map_err(|_| Errno::EFAULT)?;
            let frame = self.pages.get(&page_addr).ok_or(Errno::EFAULT)?.frame;
            let chunk = (PAGE - at % PAGE).min(end - at);
            let off = (at - addr) as usize;
            self.platform
                .memory()
                .write(frame + at % PAGE, &data[off..off + chunk as usize])
                .map_err(|_| Errno::EFAULT)?;
            // Remap with the real protection.
            let exclusive = self
                .pages
                .get(&page_addr)
                .is_some_and(|p| p.exclusive || shared);
            self.space
                .map(page_addr, PAGE, frame, perms(prot, exclusive))
                .map_err(platform_err)?;
            at += chunk;
        }
        Ok(())
    }

    fn check_range(&self, start: u64, len: u64) -> Result<u64, Errno> {
        let (min, max) = self.user_range();
        let end = start.checked_add(len).ok_or(Errno::ENOMEM)?;
        if start < min || end > max {
            return Err(Errno::ENOMEM);
        }
        Ok(end)
    }

    /// Map `[start, start + len)` as described, replacing whatever was there. `start` and
    /// `len` are page-aligned.
    pub fn map_fixed(&mut self, start: u64, len: u64, vma_template: Vma) -> Result<(), Errno> {
        let end = self.check_range(start, len)?;
        self.drop_pages(start, end)?;
        self.vmas.insert(
            start,
            Vma {
                end,
                ..vma_template
            },
        );
        Ok(())
    }

    /// `mmap`: returns the address. File mappings come with their source.
    pub fn mmap(
        &mut self,
        addr: u64,
        len: u64,
        prot: ProtFlags,
        flags: MapFlags,
        file: Option<(Arc<dyn FileSource>, u64, Arc<str>)>,
    ) -> Result<u64, Errno> {
        const FIXED_NOREPLACE: u32 = 0x10_0000;
        if len == 0 || !addr.is_multiple_of(PAGE) && flags.contains(MapFlags::FIXED) {
            return Err(Errno::EINVAL);
        }
        let len = page_up(len).ok_or(Errno::ENOMEM)?;
        let shared = match flags.bits() & MapFlags::TYPE.bits() {
            t if t == MapFlags::PRIVATE.bits() => false,
            t if t == MapFlags::SHARED.bits() || t == MapFlags::SHARED_VALIDATE.bits() => true,
            _ => return Err(Errno::EINVAL),
        };
        let (backing, name) = match file {
            Some((source, offset, name)) => {
                if !offset.is_multiple_of(PAGE) {
                    return Err(Errno::EINVAL);
                }
                (Backing::File { source, offset }, name)
            }
            None => (Backing::Anonymous, Arc::from("")),
        };
        let fixed = flags.contains(MapFlags::FIXED) || flags.bits() & FIXED_NOREPLACE != 0;
        let start = if fixed {
            let end = self.check_range(addr, len)?;
            if flags.bits() & FIXED_NOREPLACE != 0 && self.vmas.intersects(addr, end) {
                return Err(Errno::EEXIST);
            }
            addr
        } else {
            let hint = addr & !(PAGE - 1);
            let hint_ok = hint != 0
                && self
                    .check_range(hint, len)
                    .is_ok_and(|end| !self.vmas.intersects(hint, end));
            if hint_ok {
                hint
            } else {
                self.vmas
                    .find_gap(len, MMAP_FLOOR, self.mmap_top)
                    .ok_or(Errno::ENOMEM)?
            }
        };
        let vma = Vma {
            end: 0,
            prot,
            shared,
            backing,
            name,
        };
        self.map_fixed(start, len, vma)?;
        Ok(start)
    }

    /// Write the pages of shared file mappings in `[start, end)` back to their files.
    ///
    /// Shared file mappings hold their own copy of the file's pages (there is no page cache
    /// shared with the file system yet): processes sharing the mapping (fork) see each
    /// other's writes at once, and the file gets them here — at msync, munmap and exit — never
    /// growing past its size.
    pub fn writeback(&mut self, start: u64, end: u64) -> Result<(), Errno> {
        let memory = self.platform.memory();
        for (&addr, page) in self.pages.range(start..end) {
            let Some((vma_start, vma)) = self.vmas.find(addr) else {
                continue;
            };
            let Backing::File { source, offset } = &vma.backing else {
                continue;
            };
            if !vma.shared {
                continue;
            }
            let file_off = offset + (addr - vma_start);
            let size = source.size().unwrap_or(0);
            if file_off >= size {
                continue;
            }
            let len = (size - file_off).min(PAGE) as usize;
            let mut buf = vec![0u8; len];
            memory
                .read(page.frame, &mut buf)
                .map_err(|_| Errno::EFAULT)?;
            source.write_at(file_off, &buf)?;
        }
        Ok(())
    }

    /// `munmap`.
    pub fn munmap(&mut self, addr: u64, len: u64) -> Result<(), Errno> {
        if !addr.is_multiple_of(PAGE) || len == 0 {
            return Err(Errno::EINVAL);
        }
        let len = page_up(len).ok_or(Errno::EINVAL)?;
        let end = self.check_range(addr, len).map_err(|_| Errno::EINVAL)?;
        self.writeback(addr, end)?;
        self.drop_pages(addr, end)?;
        self.vmas.remove(addr, end);
        Ok(())
    }

    /// A copy of this address space for a forked child: private pages are shared
    /// copy-on-write by both, shared ones stay shared.
    pub fn fork(&mut self) -> Result<MemoryManager<P>, Errno> {
        let mut child = MemoryManager::new(self.platform.clone(), self.frames.clone())?;
        child.vmas = self.vmas.clone();
        child.brk_base = self.brk_base;
        child.brk = self.brk;
        child.mmap_top = self.mmap_top;
        let mut downgraded = false;
        for (addr, page) in self.pages.iter_mut() {
            let shared = self.vmas.find(*addr).is_some_and(|(_, v)| v.shared);
            self.frames.retain(page.frame);
            if !shared {
                downgraded |= page.exclusive;
                page.exclusive = false;
            }
            child.pages.insert(
                *addr,
                Page {
                    frame: page.frame,
                    exclusive: shared,
                },
            );
        }
        // The parent's writable translations must go, so its next write copies.
        if downgraded {
            let (min, max) = self.user_range();
            self.space.unmap(min, max - min).map_err(platform_err)?;
        }
        Ok(child)
    }

    /// The memory-file offset backing `addr` (faulting the page in for reading).
    pub fn frame_of(&mut self, addr: u64) -> Result<u64, Errno> {
        let page_addr = addr & !(PAGE - 1);
        if !self.pages.contains_key(&page_addr) {
            self.fault(addr, Access::Read).map_err(|_| Errno::EFAULT)?;
        }
        let page = self.pages.get(&page_addr).ok_or(Errno::EFAULT)?;
        Ok(page.frame + addr % PAGE)
    }

    /// Drop the pages of `[addr, addr + len)` but keep the mappings (MADV_DONTNEED).
    pub fn discard(&mut self, addr: u64, len: u64) -> Result<(), Errno> {
        let len = page_up(len).ok_or(Errno::EINVAL)?;
        let end = self.check_range(addr, len).map_err(|_| Errno::EINVAL)?;
        self.drop_pages(addr, end)
    }

    /// `mremap`: shrink in place, grow in place when the room is free, or (MREMAP_MAYMOVE)
    /// move the pages to a new range; the old range must lie in one mapping.
    pub fn mremap(
        &mut self,
        old: u64,
        old_size: u64,
        new_size: u64,
        flags: u64,
        new_addr: u64,
    ) -> Result<u64, Errno> {
        const MAYMOVE: u64 = 1;
        const FIXED: u64 = 2;
        if !old.is_multiple_of(PAGE)
            || flags & !(MAYMOVE | FIXED) != 0
            || flags & FIXED != 0 && flags & MAYMOVE == 0
        {
            return Err(Errno::EINVAL);
        }
        let old_size = page_up(old_size).ok_or(Errno::EINVAL)?;
        let new_size = page_up(new_size).ok_or(Errno::EINVAL)?;
        if old_size == 0 || new_size == 0 {
            return Err(Errno::EINVAL);
        }
        let old_end = self.check_range(old, old_size).map_err(|_| Errno::EFAULT)?;
        let (vma_start, vma) = self.vmas.find(old).ok_or(Errno::EFAULT)?;
        if vma.end < old_end {
            return Err(Errno::EFAULT);
        }
        let template = Vma {
            end: 0,
            prot: vma.prot,
            shared: vma.shared,
            backing: match &vma.backing {
                Backing::Anonymous => Backing::Anonymous,
                Backing::File { source, offset } => Backing::File {
                    source: source.clone(),
                    offset: offset + (old - vma_start),
                },
            },
            name: vma.name.clone(),
        };
        if flags & FIXED == 0 {
            if new_size <= old_size {
                if new_size < old_size {
                    self.munmap(old + new_size, old_size - new_size)?;
                }
                return Ok(old);
            }
            let grow_end = self.check_range(old, new_size).ok();
            if let Some(end) = grow_end.filter(|&end| !self.vmas.intersects(old_end, end)) {
                // The room after is free, so the mapping ends exactly at `old_end`: extend it.
                if let Some(v) = self.vmas.find_mut(old) {
                    v.end = end;
                }
                return Ok(old);
            }
            if flags & MAYMOVE == 0 {
                return Err(Errno::ENOMEM);
            }
        }
        let target = if flags & FIXED != 0 {
            if !new_addr.is_multiple_of(PAGE) {
                return Err(Errno::EINVAL);
            }
            let end = self.check_range(new_addr, new_size)?;
            if new_addr < old_end && old < end {
                return Err(Errno::EINVAL);
            }
            self.munmap(new_addr, new_size)?;
            new_addr
        } else {
            self.vmas
                .find_gap(new_size, MMAP_FLOOR, self.mmap_top)
                .ok_or(Errno::ENOMEM)?
        };
        // Move the present pages (their frames keep their contents and sharers).
        let kept = old_size.min(new_size);
        let moved: Vec<(u64, Page)> = {
            let addrs: Vec<u64> = self.pages.range(old..old + kept).map(|(a, _)| *a).collect();
            addrs
                .into_iter()
                .filter_map(|a| self.pages.remove(&a).map(|p| (a, p)))
                .collect()
        };
        self.space.unmap(old, old_size).map_err(platform_err)?;
        self.drop_pages(old, old_end)?;
        self.vmas.remove(old, old_end);
        let end = target + new_size;
        self.vmas.insert(target, Vma { end, ..template });
        for (a, page) in moved {
            self.pages.insert(target + (a - old), page);
        }
        Ok(target)
    }

    /// `mprotect`.
    pub fn mprotect(&mut self, addr: u64, len: u64, prot: ProtFlags) -> Result<(), Errno> {
        if !addr.is_multiple_of(PAGE) {
            return Err(Errno::EINVAL);
        }
        let len = page_up(len).ok_or(Errno::ENOMEM)?;
        if len == 0 {
            return Ok(());
        }
        let end = self.check_range(addr, len)?;
        self.vmas.protect(addr, end, prot)?;
        // Forget the old translations; faults install them with the new permissions.
        if self.pages.range(addr..end).next().is_some() {
            self.space.unmap(addr, len).map_err(platform_err)?;
        }
        Ok(())
    }

    /// Set where the heap starts (after loading an executable).
    pub fn set_brk_base(&mut self, base: u64) {
        self.brk_base = base;
        self.brk = base;
    }

    /// `brk`: move the program break; returns the break in effect (unchanged on failure, as
    /// Linux).
    pub fn brk(&mut self, new: u64) -> u64 {
        if new < self.brk_base {
            return self.brk;
        }
        let (Some(old_top), Some(new_top)) = (page_up(self.brk), page_up(new)) else {
            return self.brk;
        };
        if new_top > old_top {
            if self.check_range(old_top, new_top - old_top).is_err()
                || self.vmas.intersects(old_top, new_top)
            {
                return self.brk;
            }
            let vma = Vma {
                end: 0,
                prot: ProtFlags::READ | ProtFlags::WRITE,
                shared: false,
                backing: Backing::Anonymous,
                name: Arc::from("[heap]"),
            };
            if self.map_fixed(old_top, new_top - old_top, vma).is_err() {
                return self.brk;
            }
        } else if new_top < old_top && self.munmap(new_top, old_top - new_top).is_err() {
            return self.brk;
        }
        self.brk = new;
        self.brk
    }

    /// Release pages and platform mappings in `[start, end)`.
    fn drop_pages(&mut self, start: u64, end: u64) -> Result<(), Errno> {
        let gone: Vec<u64> = self.pages.range(start..end).map(|(a, _)| *a).collect();
        if gone.is_empty() {
            return Ok(());
        }
        for addr in gone {
            if let Some(page) = self.pages.remove(&addr) {
                self.frames.release(page.frame);
            }
        }
        self.space.unmap(start, end - start).map_err(platform_err)
    }

    /// Make the page at `addr` present for `access`, as a fault by the application would.
    pub fn fault(&mut self, addr: u64, access: Access) -> Result<(), Segv> {
        let page_addr = addr & !(PAGE - 1);
        let (start, vma) = self.vmas.find(addr).ok_or(Segv::MapErr)?;
        if !allows(vma.prot, access) {
            return Err(Segv::AccErr);
        }
        let (prot, shared) = (vma.prot, vma.shared);
        let memory = self.platform.memory();
        let frame = match self.pages.get(&page_addr) {
            Some(page) if access != Access::Write || page.exclusive => page.frame,
            Some(page) => {
                // Copy on write, unless every other sharer is gone.
                let old = page.frame;
                let frame = if self.frames.refs(old) == 1 {
                    old
                } else {
                    let new = self.frames.alloc(memory).map_err(|_| Segv::MapErr)?;
                    let mut buf = vec![0u8; PAGE as usize];
                    memory.read(old, &mut buf).map_err(|_| Segv::MapErr)?;
                    memory.write(new, &buf).map_err(|_| Segv::MapErr)?;
                    self.frames.release(old);
                    new
                };
                self.pages.insert(
                    page_addr,
                    Page {
                        frame,
                        exclusive: true,
                    },
                );
                frame
            }
            None => {
                let frame = self.frames.alloc(memory).map_err(|_| Segv::MapErr)?;
                if let Backing::File { source, offset } = &vma.backing {
                    let mut buf = vec![0u8; PAGE as usize];
                    let at = offset + (page_addr - start);
                    let mut filled = 0;
                    while filled < buf.len() {
                        match source.read_at(at + filled as u64, &mut buf[filled..]) {
                            Ok(0) => break,
                            Ok(n) => filled += n,
                            Err(_) => {
                                self.frames.release(frame);
                                return Err(Segv::MapErr);
                            }
                        }
                    }
                    memory.write(frame, &buf).map_err(|_| Segv::MapErr)?;
                }
                self.pages.insert(
                    page_addr,
                    Page {
                        frame,
                        exclusive: true,
                    },
                );
                frame
            }
        };
        let exclusive = self
            .pages
            .get(&page_addr)
            .is_some_and(|p| p.exclusive || shared);
        self.space
            .map(page_addr, PAGE, frame, perms(prot, exclusive))
            .map_err(|_| Segv::MapErr)
    }

    /// Copy application memory at `addr` into `buf` (EFAULT on a bad pointer).
    pub fn copy_in(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
        self.each_page(addr, buf.len(), Access::Read, |memory, frame_off, range| {
            memory.read(frame_off, &mut buf[range])
        })
    }

    /// Copy `data` into application memory at `addr` (EFAULT on a bad pointer).
    pub fn copy_out(&mut self, addr: u64, data: &[u8]) -> Result<(), Errno> {
        self.each_page(
            addr,
            data.len(),
            Access::Write,
            |memory, frame_off, range| memory.write(frame_off, &data[range]),
        )
    }

    /// A NUL-terminated string of at most `max` bytes (ENAMETOOLONG beyond).
    pub fn copy_in_cstring(&mut self, addr: u64, max: usize) -> Result<Vec<u8>, Errno> {
        let mut out = Vec::new();
        let mut at = addr;
        loop {
            let chunk = (PAGE - at % PAGE) as usize;
            let mut buf = vec![0u8; chunk];
            self.copy_in(at, &mut buf)?;
            if let Some(nul) = buf.iter().position(|&b| b == 0) {
                out.extend_from_slice(&buf[..nul]);
                return if out.len() > max {
                    Err(Errno::ENAMETOOLONG)
                } else {
                    Ok(out)
                };
            }
            out.extend_from_slice(&buf);
            if out.len() > max {
                return Err(Errno::ENAMETOOLONG);
            }
            at = at.checked_add(chunk as u64).ok_or(Errno::EFAULT)?;
        }
    }

    fn each_page(
        &mut self,
        addr: u64,
        len: usize,
        access: Access,
        mut f: impl FnMut(
            &platform::MemoryFile,
            u64,
            std::ops::Range<usize>,
        ) -> platform_kvm::Result<()>,
    ) -> Result<(), Errno> {
        let end = addr.checked_add(len as u64).ok_or(Errno::EFAULT)?;
        let mut at = addr;
        while at < end {
            let page_addr = at & !(PAGE - 1);
            let needs_fault = match self.pages.get(&page_addr) {
                None => true,
                Some(p) => access == Access::Write && !p.exclusive,
            };
            // The kernel honours the mapping's permissions for user copies too.
            let (_, vma) = self.vmas.find(at).ok_or(Errno::EFAULT)?;
            if !allows(vma.prot, access) {
                return Err(Errno::EFAULT);
            }
            if needs_fault {
                self.fault(at, access).map_err(|_| Errno::EFAULT)?;
            }
            let frame = self.pages.get(&page_addr).ok_or(Errno::EFAULT)?.frame;
            let chunk = (PAGE - at % PAGE).min(end - at);
            let done = (at - addr) as usize;
            f(
                self.platform.memory(),
                frame + at % PAGE,
                done..done + chunk as usize,
            )
            .map_err(|_| Errno::EFAULT)?;
            at += chunk;
        }
        Ok(())
    }
}

impl<P: Platform> Drop for MemoryManager<P> {
    fn drop(&mut self) {
        let (min, max) = self.user_range();
        if let Err(e) = self.writeback(min, max) {
            tracing::debug!("writeback of shared file mappings at exit: {e}");
        }
        for page in self.pages.values() {
            self.frames.release(page.frame);
        }
        self.space.release();
    }
}
