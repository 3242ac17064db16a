//! `AT_*` values of the `*at` system calls (not to be confused with [`crate::auxv`]).

/// Directory descriptor meaning "the current working directory".
pub const AT_FDCWD: i32 = -100;
/// Do not follow a final symbolic link.
pub const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
/// `faccessat`: check with the effective ids (same value as `AT_REMOVEDIR`).
pub const AT_EACCESS: u32 = 0x200;
/// `unlinkat`: remove a directory.
pub const AT_REMOVEDIR: u32 = 0x200;
/// `linkat`: follow a final symbolic link.
pub const AT_SYMLINK_FOLLOW: u32 = 0x400;
/// Do not trigger an automount on the final component.
pub const AT_NO_AUTOMOUNT: u32 = 0x800;
/// An empty path names the descriptor itself.
pub const AT_EMPTY_PATH: u32 = 0x1000;
/// `statx`: mask of the sync mode bits.
pub const AT_STATX_SYNC_TYPE: u32 = 0x6000;
/// `statx`: do what `stat` does.
pub const AT_STATX_SYNC_AS_STAT: u32 = 0x0000;
/// `statx`: force a sync with a remote server.
pub const AT_STATX_FORCE_SYNC: u32 = 0x2000;
/// `statx`: do not sync.
pub const AT_STATX_DONT_SYNC: u32 = 0x4000;
/// Apply to the whole subtree (`open_tree`, `mount_setattr`).
pub const AT_RECURSIVE: u32 = 0x8000;
