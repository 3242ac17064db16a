//! Virtual memory areas: what each range of an address space is, independent of which pages
//! are present.

use std::collections::BTreeMap;
use std::sync::Arc;

use abi::Errno;
use abi::flags::ProtFlags;

use super::frames::PAGE;

/// Where the contents of a private file mapping come from.
pub trait FileSource: Send + Sync {
    /// Read at `offset`; short reads past the end of the file are zero-filled by the caller.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize, Errno>;

    /// Write back a shared mapping's page.
    fn write_at(&self, offset: u64, data: &[u8]) -> Result<usize, Errno> {
        let _ = (offset, data);
        Err(Errno::EACCES)
    }

    /// The file's size now.
    fn size(&self) -> Option<u64> {
        None
    }
}

#[derive(Clone)]
pub enum Backing {
    /// Zero-filled memory.
    Anonymous,
    /// A private copy of a file: page at `start + n` comes from file offset `offset + n`.
    File {
        source: Arc<dyn FileSource>,
        offset: u64,
    },
}

#[derive(Clone)]
pub struct Vma {
    pub end: u64,
    pub prot: ProtFlags,
    /// Pages are shared with other mappings of the same memory rather than copied on write
    /// (MAP_SHARED anonymous memory across fork).
    pub shared: bool,
    pub backing: Backing,
    /// What `/proc/self/maps` calls it (`[heap]`, `[stack]`, a path).
    pub name: Arc<str>,
}

impl Vma {
    /// The part of the backing for `[start, start + len)` when this area begins at `base`.
    fn backing_from(&self, base: u64, start: u64) -> Backing {
        match &self.backing {
            Backing::Anonymous => Backing::Anonymous,
            Backing::File { source, offset } => Backing::File {
                source: source.clone(),
                offset: offset + (start - base),
            },
        }
    }
}

/// The areas of one address space, keyed by start address; they never overlap.
#[derive(Clone, Default)]
pub struct Vmas {
    areas: BTreeMap<u64, Vma>,
}

impl Vmas {
    /// The area containing `addr`.
    pub fn find(&self, addr: u64) -> Option<(u64, &Vma)> {
        self.areas
            .range(..=addr)
            .next_back()
            .filter(|(_, v)| addr < v.end)
            .map(|(s, v)| (*s, v))
    }

    pub fn find_mut(&mut self, addr: u64) -> Option<&mut Vma> {
        self.areas
            .range_mut(..=addr)
            .next_back()
            .filter(|(_, v)| addr < v.end)
            .map(|(_, v)| v)
    }

    pub fn iter(&self) -> impl Iterator<Item = (u64, &Vma)> {
        self.areas.iter().map(|(s, v)| (*s, v))
    }

    /// Whether any area intersects `[start, end)`.
    pub fn intersects(&self, start: u64, end: u64) -> bool {
        self.areas
            .range(..end)
            .next_back()
            .is_some_and(|(_, v)| v.end > start)
    }

    /// Cut areas at `addr` so that no area straddles it.
    fn split_at(&mut self, addr: u64) {
        let Some((&start, vma)) = self.areas.range(..addr).next_back() else {
            return;
        };
        if vma.end <= addr {
            return;
        }
        let mut upper = vma.clone();
        upper.backing = vma.backing_from(start, addr);
        if let Some(lower) = self.areas.get_mut(&start) {
            lower.end = addr;
        }
        self.areas.insert(addr, upper);
    }

    /// Remove `[start, end)` from every area, returning the removed pieces.
    pub fn remove(&mut self, start: u64, end: u64) -> Vec<(u64, Vma)> {
        self.split_at(start);
        self.split_at(end);
        let keys: Vec<u64> = self.areas.range(start..end).map(|(s, _)| *s).collect();
        keys.into_iter()
            .filter_map(|k| self.areas.remove(&k).map(|v| (k, v)))
            .collect()
    }

    /// Insert an area over `[start, vma.end)`, replacing what was there.
    pub fn insert(&mut self, start: u64, vma: Vma) {
        self.remove(start, vma.end);
        self.areas.insert(start, vma);
    }

    /// Change the protection of `[start, end)`; ENOMEM if part of it is unmapped (as Linux).
    pub fn protect(&mut self, start: u64, end: u64, prot: ProtFlags) -> Result<(), Errno> {
        let mut at = start;
        while at < end {
            match self.find(at) {
                Some((_, v)) => at = v.end,
                None => return Err(Errno::ENOMEM),
            }
        }
        self.split_at(start);
        self.split_at(end);
        for (_, v) in self.areas.range_mut(start..end) {
            v.prot = prot;
        }
        Ok(())
    }

    /// The highest free gap of `len` bytes that ends at or below `below` and starts at or
    /// above `floor`.
    pub fn find_gap(&self, len: u64, floor: u64, below: u64) -> Option<u64> {
        let mut top = below;
        for (&start, v) in self.areas.range(..below).rev() {
            if v.end <= top && top - v.end >= len {
                return Some(top - len).filter(|&s| s >= floor);
            }
            top = top.min(start);
        }
        (top >= floor + len).then(|| top - len)
    }
}

/// Round up to a page boundary, None on overflow.
pub fn page_up(x: u64) -> Option<u64> {
    x.checked_add(PAGE - 1).map(|v| v & !(PAGE - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anon(end: u64) -> Vma {
        Vma {
            end,
            prot: ProtFlags::READ | ProtFlags::WRITE,
            shared: false,
            backing: Backing::Anonymous,
            name: "".into(),
        }
    }

    #[test]
    fn remove_splits_areas() {
        let mut v = Vmas::default();
        v.insert(0x1000, anon(0x5000));
        let removed = v.remove(0x2000, 0x3000);
        assert_eq!(removed.len(), 1);
        assert_eq!(removed[0].0, 0x2000);
        assert!(v.find(0x1000).is_some() && v.find(0x2000).is_none() && v.find(0x3000).is_some());
        assert_eq!(v.find(0x4fff).map(|(s, _)| s), Some(0x3000));
    }

    #[test]
    fn protect_needs_full_coverage() {
        let mut v = Vmas::default();
        v.insert(0x1000, anon(0x2000));
        v.insert(0x3000, anon(0x4000));
        assert_eq!(
            v.protect(0x1000, 0x4000, ProtFlags::READ),
            Err(Errno::ENOMEM)
        );
        v.protect(0x3000, 0x4000, ProtFlags::READ).unwrap();
        assert_eq!(v.find(0x3000).unwrap().1.prot, ProtFlags::READ);
    }

    #[test]
    fn gaps_are_found_top_down() {
        let mut v = Vmas::default();
        v.insert(0x10_000, anon(0x20_000));
        v.insert(0x30_000, anon(0x40_000));
        assert_eq!(v.find_gap(0x1000, 0x1000, 0x40_000), Some(0x2f_000));
        assert_eq!(v.find_gap(0x10_000, 0x1000, 0x40_000), Some(0x20_000));
        assert_eq!(v.find_gap(0x11_000, 0x1000, 0x40_000), None);
        // The highest fitting gap wins: between the areas, not below them.
        assert_eq!(v.find_gap(0x8000, 0x1000, 0x40_000), Some(0x28_000));
        // Below the lowest area when the gap between is taken.
        v.insert(0x20_000, anon(0x30_000));
        assert_eq!(v.find_gap(0x8000, 0x1000, 0x40_000), Some(0x8000));
        assert_eq!(
            v.find_gap(0x8000, 0x9000, 0x40_000),
            None,
            "the floor holds"
        );
    }
}
