//! Descriptor tables: the numbers a task uses for its open files.

use std::sync::{Arc, Mutex};

use abi::Errno;
use abi::flags::fcntl::{F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_GETFL, F_SETFD, F_SETFL, FD_CLOEXEC};

use super::OpenFlags;
use super::file::OpenFile;
use super::lock;

/// Default `RLIMIT_NOFILE` soft limit.
pub const DEFAULT_NOFILE: u64 = 1024;
/// Highest limit accepted (Linux's default `fs.nr_open`).
pub const NR_OPEN: u64 = 1 << 20;

#[derive(Clone)]
struct Slot {
    file: Arc<OpenFile>,
    cloexec: bool,
}

struct Table {
    slots: Vec<Option<Slot>>,
    /// `RLIMIT_NOFILE`: descriptors must be below it.
    limit: usize,
}

/// A task's descriptor table (shared between threads, or copied by `fork`).
pub struct FdTable {
    inner: Mutex<Table>,
}

impl Default for FdTable {
    fn default() -> Self {
        Self::new()
    }
}

impl FdTable {
    /// An empty table with the default limit.
    pub fn new() -> FdTable {
        FdTable {
            inner: Mutex::new(Table {
                slots: Vec::new(),
                limit: DEFAULT_NOFILE as usize,
            }),
        }
    }

    /// The current `RLIMIT_NOFILE`.
    pub fn limit(&self) -> u64 {
        lock(&self.inner).limit as u64
    }

    /// Sets `RLIMIT_NOFILE` (`EPERM` above [`NR_OPEN`], as Linux's `setrlimit`). Open
    /// descriptors above a lowered limit stay open.
    pub fn set_limit(&self, limit: u64) -> Result<(), Errno> {
        if limit > NR_OPEN {
            return Err(Errno::EPERM);
        }
        lock(&self.inner).limit = usize::try_from(limit).map_err(|_| Errno::EINVAL)?;
        Ok(())
    }

    /// Installs `file` at the lowest free descriptor (`EMFILE` if none is below the limit).
    pub fn insert(&self, file: Arc<OpenFile>, cloexec: bool) -> Result<i32, Errno> {
        self.insert_from(0, file, cloexec)
            .map_err(|_| Errno::EMFILE)
    }

    /// Installs `file` at the lowest free descriptor `>= min` (`F_DUPFD`): `EINVAL` if `min`
    /// is not below the limit, `EMFILE` if nothing is free.
    pub fn insert_from(&self, min: i32, file: Arc<OpenFile>, cloexec: bool) -> Result<i32, Errno> {
        let min = usize::try_from(min).map_err(|_| Errno::EINVAL)?;
        let mut t = lock(&self.inner);
        if min >= t.limit {
            return Err(Errno::EINVAL);
        }
        let free = (min..t.limit).find(|&fd| t.slots.get(fd).is_none_or(Option::is_none));
        let fd = free.ok_or(Errno::EMFILE)?;
        if fd >= t.slots.len() {
            t.slots.resize(fd + 1, None);
        }
        t.slots[fd] = Some(Slot { file, cloexec });
        i32::try_from(fd).map_err(|_| Errno::EMFILE)
    }

    /// The file at `fd` (`EBADF` if none).
    pub fn get(&self, fd: i32) -> Result<Arc<OpenFile>, Errno> {
        self.get_with_flags(fd).map(|(f, _)| f)
    }

    /// The file at `fd` and its close-on-exec flag.
    pub fn get_with_flags(&self, fd: i32) -> Result<(Arc<OpenFile>, bool), Errno> {
        let t = lock(&self.inner);
        let slot = slot(&t, fd)?;
        Ok((slot.file.clone(), slot.cloexec))
    }

    /// `close`: frees `fd` (`EBADF` if not open) and returns the file's flush error, if any.
    pub fn close(&self, fd: i32) -> Result<(), Errno> {
        let file = {
            let mut t = lock(&self.inner);
            slot(&t, fd)?;
            let i = usize::try_from(fd).map_err(|_| Errno::EBADF)?;
            t.slots[i].take().map(|s| s.file)
        };
        // Flush and drop outside the lock: both may run file code.
        match file {
            Some(f) => f.flush(),
            None => Err(Errno::EBADF),
        }
    }

    /// `dup`: a new descriptor for the same file, close-on-exec clear.
    pub fn dup(&self, fd: i32) -> Result<i32, Errno> {
        let file = self.get(fd)?;
        self.insert(file, false)
    }

    /// `dup2`: makes `new` refer to `old`'s file, silently closing what `new` held. Same
    /// descriptors: returns `new` if `old` is open.
    pub fn dup2(&self, old: i32, new: i32) -> Result<i32, Errno> {
        if old == new {
            self.get(old)?;
            return Ok(new);
        }
        self.dup_to(old, new, false)
    }

    /// `dup3`: `dup2` with flags (`O_CLOEXEC` only); `EINVAL` for equal descriptors.
    pub fn dup3(&self, old: i32, new: i32, flags: u32) -> Result<i32, Errno> {
        let flags = OpenFlags::from_bits(flags).ok_or(Errno::EINVAL)?;
        if !(flags - OpenFlags::CLOEXEC).is_empty() || old == new {
            return Err(Errno::EINVAL);
        }
        self.dup_to(old, new, flags.contains(OpenFlags::CLOEXEC))
    }

    fn dup_to(&self, old: i32, new: i32, cloexec: bool) -> Result<i32, Errno> {
        let replaced = {
            let mut t = lock(&self.inner);
            let file = slot(&t, old)?.file.clone();
            let n = usize::try_from(new).map_err(|_| Errno::EBADF)?;
            if n >= t.limit {
                return Err(Errno::EBADF);
            }
            if n >= t.slots.len() {
                t.slots.resize(n + 1, None);
            }
            t.slots[n].replace(Slot { file, cloexec })
        };
        if let Some(s) = replaced {
            // Errors of the implicit close are not reported, as in Linux.
            let _ = s.file.flush();
        }
        Ok(new)
    }

    /// The descriptor-table commands of `fcntl`: `F_DUPFD`, `F_DUPFD_CLOEXEC`, `F_GETFD`,
    /// `F_SETFD`, `F_GETFL`, `F_SETFL`. Other commands (locks, owners, leases, pipe sizes) are
    /// the syscall layer's and get `EINVAL` here.
    pub fn fcntl(&self, fd: i32, cmd: i32, arg: u64) -> Result<u64, Errno> {
        match cmd {
            F_DUPFD | F_DUPFD_CLOEXEC => {
                let file = self.get(fd)?;
                let min = i32::try_from(arg).map_err(|_| Errno::EINVAL)?;
                let n = self.insert_from(min, file, cmd == F_DUPFD_CLOEXEC)?;
                Ok(n as u64)
            }
            F_GETFD => {
                let (_, cloexec) = self.get_with_flags(fd)?;
                Ok(if cloexec { FD_CLOEXEC as u64 } else { 0 })
            }
            F_SETFD => {
                let mut t = lock(&self.inner);
                slot(&t, fd)?;
                let i = usize::try_from(fd).map_err(|_| Errno::EBADF)?;
                if let Some(s) = t.slots[i].as_mut() {
                    s.cloexec = arg & FD_CLOEXEC as u64 != 0;
                }
                Ok(0)
            }
            F_GETFL => Ok(u64::from(self.get(fd)?.flags().bits())),
            F_SETFL => {
                let file = self.get(fd)?;
                file.set_flags(OpenFlags::from_bits_retain(arg as u32))?;
                Ok(0)
            }
            _ => {
                self.get(fd)?;
                Err(Errno::EINVAL)
            }
        }
    }

    /// The copy `fork` gives the child: same files (shared descriptions), same flags.
    pub fn fork(&self) -> FdTable {
        let t = lock(&self.inner);
        FdTable {
            inner: Mutex::new(Table {
                slots: t.slots.clone(),
                limit: t.limit,
            }),
        }
    }

    /// Closes every close-on-exec descriptor (at `execve`).
    pub fn close_on_exec(&self) {
        let closed: Vec<Slot> = {
            let mut t = lock(&self.inner);
            t.slots
                .iter_mut()
                .filter(|s| s.as_ref().is_some_and(|s| s.cloexec))
                .filter_map(Option::take)
                .collect()
        };
        for s in closed {
            let _ = s.file.flush();
        }
    }

    /// The open descriptors, in order (for `/proc/self/fd`).
    pub fn fds(&self) -> Vec<i32> {
        let t = lock(&self.inner);
        t.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_some())
            .filter_map(|(i, _)| i32::try_from(i).ok())
            .collect()
    }

    /// Closes everything (at exit).
    pub fn clear(&self) {
        let all: Vec<Slot> = lock(&self.inner).slots.drain(..).flatten().collect();
        for s in all {
            let _ = s.file.flush();
        }
    }
}

fn slot(t: &Table, fd: i32) -> Result<&Slot, Errno> {
    let i = usize::try_from(fd).map_err(|_| Errno::EBADF)?;
    t.slots.get(i).and_then(Option::as_ref).ok_or(Errno::EBADF)
}
