//! Handing out TLB tags (x86 PCIDs, aarch64 ASIDs) to address spaces.
//!
//! Tags are `1..=max`; 0 stays with the kernel tables. Tags are handed out round-robin, so a
//! released tag is reused only after the never-used ones. The TLB may still hold translations
//! of a tag's previous holder, so reusing a tag asks for a flush of that tag. When every tag is
//! in use, the allocator starts a new epoch: all tags become free, every outstanding [`Tag`]
//! goes stale ([`TagAllocator::is_current`] turns false, its holder acquires a new one before
//! it next runs), and the caller must flush all tags once.
//!
//! TLBs are per CPU, so an allocator serves one CPU (or a group whose TLBs are flushed
//! together, with no CPU still running a stale tag when a new epoch starts).

/// Largest x86 PCID.
pub const MAX_PCID: u16 = super::x86_64::MAX_PCID;
/// Largest 8-bit ASID.
pub const MAX_ASID8: u16 = 255;
/// Largest 16-bit ASID.
pub const MAX_ASID16: u16 = 65535;

/// Tags up to [`MAX_PCID`].
pub type PcidAllocator = TagAllocator<64>;
/// Tags up to [`MAX_ASID8`].
pub type Asid8Allocator = TagAllocator<4>;
/// Tags up to [`MAX_ASID16`].
pub type Asid16Allocator = TagAllocator<1024>;

/// A tag held by an address space. Not `Clone`: releasing it gives it up.
#[derive(Debug, PartialEq, Eq)]
#[must_use]
pub struct Tag {
    value: u16,
    epoch: u64,
}

impl Tag {
    /// The PCID / ASID.
    pub fn value(&self) -> u16 {
        self.value
    }
}

/// What the CPU's TLB needs before a freshly acquired tag is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum Flush {
    /// Nothing: the tag has not been used since the last full flush.
    None,
    /// The tag's translations (a previous holder's) must be flushed.
    Tag,
    /// A new epoch started: translations of all tags must be flushed.
    All,
}

/// An allocator of tags `1..=max`, with `WORDS * 64 > max` bits of bookkeeping.
#[derive(Debug)]
pub struct TagAllocator<const WORDS: usize> {
    max: u16,
    epoch: u64,
    /// Bit `t` set: tag `t` is held, or is not a tag (0 and above `max`).
    taken: [u64; WORDS],
    /// Bit `t` set: tag `t` was handed out since the last full flush.
    used: [u64; WORDS],
    /// Where the search for a free tag starts.
    next: usize,
}

impl<const WORDS: usize> TagAllocator<WORDS> {
    /// An allocator of tags `1..=max`. Panics unless `1 <= max < WORDS * 64`.
    pub const fn new(max: u16) -> Self {
        assert!(max >= 1 && (max as usize) < WORDS * 64);
        TagAllocator {
            max,
            epoch: 0,
            taken: Self::reserved(max),
            used: [0; WORDS],
            next: 1,
        }
    }

    /// The bits of values that are not tags: 0 and everything above `max`.
    const fn reserved(max: u16) -> [u64; WORDS] {
        let mut bits = [0u64; WORDS];
        bits[0] = 1;
        let mut t = max as usize + 1;
        while t < WORDS * 64 {
            bits[t / 64] |= 1 << (t % 64);
            t += 1;
        }
        bits
    }

    /// A free tag and the flush it needs before use.
    pub fn acquire(&mut self) -> (Tag, Flush) {
        let (value, flush) = match self.find_free() {
            Some(t) => {
                let reused = self.used[t / 64] & (1 << (t % 64)) != 0;
                (t, if reused { Flush::Tag } else { Flush::None })
            }
            None => {
                self.epoch += 1;
                self.taken = Self::reserved(self.max);
                self.used = [0; WORDS];
                (1, Flush::All)
            }
        };
        self.taken[value / 64] |= 1 << (value % 64);
        self.used[value / 64] |= 1 << (value % 64);
        self.next = if value == self.max as usize {
            1
        } else {
            value + 1
        };
        let tag = Tag {
            value: value as u16,
            epoch: self.epoch,
        };
        (tag, flush)
    }

    /// Whether `tag` is still its holder's; a stale tag must be replaced before use.
    pub fn is_current(&self, tag: &Tag) -> bool {
        tag.epoch == self.epoch
    }

    /// Gives `tag` back. Stale tags are ignored.
    pub fn release(&mut self, tag: Tag) {
        if self.is_current(&tag) {
            let t = tag.value as usize;
            debug_assert!(self.taken[t / 64] & (1 << (t % 64)) != 0);
            self.taken[t / 64] &= !(1 << (t % 64));
        }
    }

    /// How many tags are held in the current epoch.
    pub fn in_use(&self) -> usize {
        let taken: u32 = self.taken.iter().map(|w| w.count_ones()).sum();
        let reserved: u32 = Self::reserved(self.max)
            .iter()
            .map(|w| w.count_ones())
            .sum();
        (taken - reserved) as usize
    }

    /// The first free tag at or after `next`, wrapping around.
    fn find_free(&self) -> Option<usize> {
        let (word, bit) = (self.next / 64, self.next % 64);
        let rest = !self.taken[word] & (u64::MAX << bit);
        if rest != 0 {
            return Some(word * 64 + rest.trailing_zeros() as usize);
        }
        (word + 1..WORDS).chain(0..=word).find_map(|w| {
            let free = !self.taken[w];
            (free != 0).then(|| w * 64 + free.trailing_zeros() as usize)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_tags_first_then_reuse_with_flush() {
        let mut a = TagAllocator::<1>::new(4);
        let (t1, f1) = a.acquire();
        let (t2, f2) = a.acquire();
        assert_eq!(
            (t1.value(), f1, t2.value(), f2),
            (1, Flush::None, 2, Flush::None)
        );
        a.release(t1);
        // Never-used tags come before the released one.
        let (t3, f3) = a.acquire();
        let (t4, f4) = a.acquire();
        assert_eq!(
            (t3.value(), f3, t4.value(), f4),
            (3, Flush::None, 4, Flush::None)
        );
        let (t1b, f1b) = a.acquire();
        assert_eq!((t1b.value(), f1b), (1, Flush::Tag));
        assert_eq!(a.in_use(), 4);
        for t in [t2, t3, t4, t1b] {
            a.release(t);
        }
        assert_eq!(a.in_use(), 0);
    }

    #[test]
    fn exhaustion_starts_a_new_epoch() {
        let mut a = TagAllocator::<1>::new(3);
        let held: [Tag; 3] = core::array::from_fn(|_| a.acquire().0);
        assert!(held.iter().all(|t| a.is_current(t)));
        let (t, flush) = a.acquire();
        assert_eq!((t.value(), flush), (1, Flush::All));
        assert!(a.is_current(&t));
        assert!(held.iter().all(|t| !a.is_current(t)));
        assert_eq!(a.in_use(), 1);
        // Stale tags given back do not free the current holder's.
        for old in held {
            a.release(old);
        }
        assert_eq!(a.in_use(), 1);
        // After a full flush, the other tags are clean again.
        let (t2, f2) = a.acquire();
        assert_eq!((t2.value(), f2), (2, Flush::None));
        a.release(t);
        a.release(t2);
    }

    #[test]
    fn pcid_range() {
        let mut a = PcidAllocator::new(MAX_PCID);
        for pcid in 1..=MAX_PCID {
            let (t, flush) = a.acquire();
            assert_eq!((t.value(), flush), (pcid, Flush::None));
        }
        assert_eq!(a.in_use(), MAX_PCID as usize);
        assert_eq!(a.acquire().1, Flush::All);
    }

    #[test]
    fn asid16_range() {
        let mut a = Asid16Allocator::new(MAX_ASID16);
        let (t, _) = a.acquire();
        assert_eq!(t.value(), 1);
        a.release(t);
        assert_eq!(a.in_use(), 0);
    }
}
