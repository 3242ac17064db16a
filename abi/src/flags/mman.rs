//! `mmap`, `mprotect` and `mremap` flags.

use bitflags::bitflags;

bitflags! {
    /// `PROT_*` protection bits. aarch64 adds `PROT_BTI` and `PROT_MTE`
    /// (see [`crate::aarch64`]).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct ProtFlags: u32 {
        const READ = 0x1;
        const WRITE = 0x2;
        const EXEC = 0x4;
        const SEM = 0x8;
        /// `mprotect`: extend the change down to the start of a grows-down mapping.
        const GROWSDOWN = 0x0100_0000;
        /// `mprotect`: extend the change up to the end of a grows-up mapping.
        const GROWSUP = 0x0200_0000;
    }
}

impl ProtFlags {
    /// `PROT_NONE`: no access.
    pub const NONE: ProtFlags = ProtFlags::empty();
}

bitflags! {
    /// `MAP_*` flags of `mmap`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct MapFlags: u32 {
        const SHARED = 0x1;
        const PRIVATE = 0x2;
        /// Like `SHARED`, but fail on unknown flags.
        const SHARED_VALIDATE = 0x3;
        /// Mask of the mapping type (`SHARED`, `PRIVATE`, `SHARED_VALIDATE`, `DROPPABLE`).
        const TYPE = 0xf;
        /// Zero-filled mapping the kernel may drop under memory pressure.
        const DROPPABLE = 0x8;
        const FIXED = 0x10;
        const ANONYMOUS = 0x20;
        /// `MAP_32BIT`, x86_64 only: place the mapping in the low 2 GiB.
        const BELOW_2G = 0x40;
        const GROWSDOWN = 0x100;
        const DENYWRITE = 0x800;
        const EXECUTABLE = 0x1000;
        const LOCKED = 0x2000;
        const NORESERVE = 0x4000;
        const POPULATE = 0x8000;
        const NONBLOCK = 0x10000;
        const STACK = 0x20000;
        const HUGETLB = 0x40000;
        const SYNC = 0x80000;
        /// Like `FIXED`, but fail with `EEXIST` instead of replacing a mapping.
        const FIXED_NOREPLACE = 0x100000;
        const UNINITIALIZED = 0x4000000;
    }
}

impl MapFlags {
    /// `MAP_ANON`, the old name of `ANONYMOUS`.
    pub const ANON: MapFlags = MapFlags::ANONYMOUS;
    /// `MAP_FILE`: no bits, for portability only.
    pub const FILE: MapFlags = MapFlags::empty();
}

/// With `MAP_HUGETLB`, the log2 of the page size is stored from this bit up.
pub const MAP_HUGE_SHIFT: u32 = 26;
/// Mask of the page size field (after shifting by [`MAP_HUGE_SHIFT`]).
pub const MAP_HUGE_MASK: u32 = 0x3f;

bitflags! {
    /// `MREMAP_*` flags.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct MremapFlags: u32 {
        const MAYMOVE = 1;
        const FIXED = 2;
        const DONTUNMAP = 4;
    }
}

/// `msync` flag: start writeback, do not wait.
pub const MS_ASYNC: u32 = 1;
/// `msync` flag: invalidate other mappings of the file.
pub const MS_INVALIDATE: u32 = 2;
/// `msync` flag: write back and wait.
pub const MS_SYNC: u32 = 4;

pub const MADV_NORMAL: i32 = 0;
pub const MADV_RANDOM: i32 = 1;
pub const MADV_SEQUENTIAL: i32 = 2;
pub const MADV_WILLNEED: i32 = 3;
pub const MADV_DONTNEED: i32 = 4;
pub const MADV_FREE: i32 = 8;
pub const MADV_REMOVE: i32 = 9;
pub const MADV_DONTFORK: i32 = 10;
pub const MADV_DOFORK: i32 = 11;
pub const MADV_MERGEABLE: i32 = 12;
pub const MADV_UNMERGEABLE: i32 = 13;
pub const MADV_HUGEPAGE: i32 = 14;
pub const MADV_NOHUGEPAGE: i32 = 15;
pub const MADV_DONTDUMP: i32 = 16;
pub const MADV_DODUMP: i32 = 17;
pub const MADV_WIPEONFORK: i32 = 18;
pub const MADV_KEEPONFORK: i32 = 19;
pub const MADV_COLD: i32 = 20;
pub const MADV_PAGEOUT: i32 = 21;
pub const MADV_POPULATE_READ: i32 = 22;
pub const MADV_POPULATE_WRITE: i32 = 23;
pub const MADV_DONTNEED_LOCKED: i32 = 24;
pub const MADV_COLLAPSE: i32 = 25;
pub const MADV_HWPOISON: i32 = 100;
pub const MADV_SOFT_OFFLINE: i32 = 101;
