//! The per-task file-system state the caller passes to each operation, and where a relative
//! path starts.

use super::file::OpenFile;
use super::mount::Location;
use super::perm::Creds;

/// What Linux keeps in a task's `fs_struct` plus its credentials: root, working directory,
/// umask. The task layer owns it (shared or copied per `CLONE_FS`).
#[derive(Clone, Debug)]
pub struct FsContext {
    pub root: Location,
    pub cwd: Location,
    /// Permission bits cleared from the mode of new files and directories.
    pub umask: u32,
    pub creds: Creds,
}

/// Where a relative path starts: the syscall layer's translation of a `dirfd`.
///
/// Linux ignores `dirfd` entirely for an absolute path (even a bad one), so the syscall layer
/// should look the descriptor up only when [`needs_dirfd`] says so.
#[derive(Clone, Copy)]
pub enum At<'a> {
    /// `AT_FDCWD`: the working directory.
    Cwd,
    /// A location held by the caller.
    Dir(&'a Location),
    /// An open file (its location; for `AT_EMPTY_PATH`, the file itself).
    File(&'a OpenFile),
}

/// Whether resolving `path` uses its `dirfd` (relative or empty paths do; absolute ones not).
pub fn needs_dirfd(path: &[u8]) -> bool {
    path.first() != Some(&b'/')
}
