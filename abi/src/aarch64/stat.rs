/// `struct stat` of the generic ABI, as aarch64's `fstat` and `newfstatat` write it
/// (128 bytes; there is no `stat`/`lstat` call on aarch64).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Stat {
    pub st_dev: u64,
    pub st_ino: u64,
    pub st_mode: u32,
    /// 32 bits here, unlike x86_64.
    pub st_nlink: u32,
    pub st_uid: u32,
    pub st_gid: u32,
    pub st_rdev: u64,
    pub _pad1: u64,
    pub st_size: i64,
    /// 32 bits here, unlike x86_64.
    pub st_blksize: i32,
    pub _pad2: i32,
    /// Number of 512-byte blocks allocated.
    pub st_blocks: i64,
    pub st_atime: i64,
    pub st_atime_nsec: i64,
    pub st_mtime: i64,
    pub st_mtime_nsec: i64,
    pub st_ctime: i64,
    pub st_ctime_nsec: i64,
    pub _unused: [u32; 2],
}
