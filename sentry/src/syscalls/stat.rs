//! `struct stat` and `struct statx` as the application sees them.

use crate::vfs::{FileStat, major, minor};

/// x86_64 `struct stat` (144 bytes).
#[cfg(target_arch = "x86_64")]
pub fn stat_bytes(st: &FileStat) -> Vec<u8> {
    let mut b = Vec::with_capacity(144);
    for v in [st.dev, st.ino, st.nlink] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    for v in [st.mode, st.uid, st.gid, 0] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&st.rdev.to_le_bytes());
    for v in [st.size as i64, i64::from(st.blksize), st.blocks as i64] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    for t in [st.atime, st.mtime, st.ctime] {
        b.extend_from_slice(&t.tv_sec.to_le_bytes());
        b.extend_from_slice(&t.tv_nsec.to_le_bytes());
    }
    b.resize(144, 0);
    b
}

/// aarch64 (asm-generic) `struct stat` (128 bytes).
#[cfg(target_arch = "aarch64")]
pub fn stat_bytes(st: &FileStat) -> Vec<u8> {
    let mut b = Vec::with_capacity(128);
    b.extend_from_slice(&st.dev.to_le_bytes());
    b.extend_from_slice(&st.ino.to_le_bytes());
    for v in [st.mode, st.nlink as u32, st.uid, st.gid] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&st.rdev.to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes());
    b.extend_from_slice(&(st.size as i64).to_le_bytes());
    b.extend_from_slice(&(st.blksize as i32).to_le_bytes());
    b.extend_from_slice(&0i32.to_le_bytes());
    b.extend_from_slice(&(st.blocks as i64).to_le_bytes());
    for t in [st.atime, st.mtime, st.ctime] {
        b.extend_from_slice(&t.tv_sec.to_le_bytes());
        b.extend_from_slice(&t.tv_nsec.to_le_bytes());
    }
    b.resize(128, 0);
    b
}

/// What `statx` fills in: the basic stats (STATX_BASIC_STATS).
pub const STATX_BASIC_STATS: u32 = 0x7ff;

/// `struct statx` (256 bytes) with the basic stats.
pub fn statx_bytes(st: &FileStat) -> Vec<u8> {
    let mut b = vec![0u8; 256];
    let put32 =
        |b: &mut Vec<u8>, at: usize, v: u32| b[at..at + 4].copy_from_slice(&v.to_le_bytes());
    let put64 =
        |b: &mut Vec<u8>, at: usize, v: u64| b[at..at + 8].copy_from_slice(&v.to_le_bytes());
    put32(&mut b, 0, STATX_BASIC_STATS);
    put32(&mut b, 4, st.blksize);
    put32(&mut b, 16, st.nlink as u32);
    put32(&mut b, 20, st.uid);
    put32(&mut b, 24, st.gid);
    b[28..30].copy_from_slice(&(st.mode as u16).to_le_bytes());
    put64(&mut b, 32, st.ino);
    put64(&mut b, 40, st.size);
    put64(&mut b, 48, st.blocks);
    for (at, t) in [(64, st.atime), (96, st.ctime), (112, st.mtime)] {
        put64(&mut b, at, t.tv_sec as u64);
        put32(&mut b, at + 8, t.tv_nsec as u32);
    }
    put32(&mut b, 128, major(st.rdev));
    put32(&mut b, 132, minor(st.rdev));
    put32(&mut b, 136, major(st.dev));
    put32(&mut b, 140, minor(st.dev));
    b
}
