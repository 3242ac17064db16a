//! Address spaces: one stub process each, whose mappings are changed by making a stopped
//! process of the stub run `mmap`, `mprotect` or `munmap`.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use super::USER_RANGE;
use super::error::{Error, Result};
use super::master::Master;
use super::stats::Stats;
use super::stub::STUB_MEMFD;
use super::stub_asm::Entry;
use super::sys::{self, Pid};
use super::tracee::Tracee;
use crate::platform::Perms;

const PAGE: u64 = 4096;

const NR_MMAP: u64 = 9;
const NR_MPROTECT: u64 = 10;
const NR_MUNMAP: u64 = 11;
const NR_CLONE: u64 = 56;

/// What an address space shares with the tracees running in it.
pub struct SpaceShared {
    pub id: u64,
    /// The stub's first process (traced by the stub thread); also its process group.
    pub leader: Pid,
    released: AtomicBool,
    master: Arc<Master>,
    pub stats: Arc<Stats>,
    /// The tracees of this space by the host thread that traces them: mapping changes
    /// requested on that thread are injected through one of them.
    injectors: Mutex<HashMap<Pid, Vec<Weak<Tracee>>>>,
    /// Every tracee, to kill and reap on release.
    tracees: Mutex<Vec<Weak<Tracee>>>,
}

impl SpaceShared {
    pub fn is_released(&self) -> bool {
        self.released.load(Ordering::Acquire)
    }
}

/// An application address space on the ptrace platform: one stub process.
pub struct AddressSpace {
    shared: Arc<SpaceShared>,
    memory_size: u64,
}

impl AddressSpace {
    pub(super) fn new(
        master: &Arc<Master>,
        memory_size: u64,
        stats: &Arc<Stats>,
    ) -> Result<AddressSpace> {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let leader = master.spawn()?;
        Ok(AddressSpace {
            shared: Arc::new(SpaceShared {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                leader,
                released: AtomicBool::new(false),
                master: master.clone(),
                stats: stats.clone(),
                injectors: Mutex::default(),
                tracees: Mutex::default(),
            }),
            memory_size,
        })
    }

    /// Map `len` bytes of the memory file from `offset` at `addr` with `perms`, replacing
    /// whatever was mapped there. Empty `perms` map the range inaccessible.
    pub fn map(&self, addr: u64, len: u64, offset: u64, perms: Perms) -> Result<()> {
        check_range(addr, len)?;
        if !offset.is_multiple_of(PAGE)
            || offset
                .checked_add(len)
                .is_none_or(|end| end > self.memory_size)
        {
            return Err(Error::InvalidRange {
                addr: offset,
                len,
                why: "not page-aligned or past the end of the memory file",
            });
        }
        let flags = (libc::MAP_SHARED | libc::MAP_FIXED) as u64;
        let args = [addr, len, prot(perms), flags, STUB_MEMFD, offset];
        let mapped = self.syscall("mmap", NR_MMAP, args)?;
        if mapped != addr {
            return Err(Error::StubSyscall {
                call: "mmap",
                source: io::Error::other(format!("mapped at {mapped:#x}, not {addr:#x}")),
                hint: "",
            });
        }
        Ok(())
    }

    /// Remove any mapping in `[addr, addr + len)`.
    pub fn unmap(&self, addr: u64, len: u64) -> Result<()> {
        check_range(addr, len)?;
        self.syscall("munmap", NR_MUNMAP, [addr, len, 0, 0, 0, 0])
            .map(drop)
    }

    /// Change the permissions of the mappings in `[addr, addr + len)`.
    pub fn protect(&self, addr: u64, len: u64, perms: Perms) -> Result<()> {
        check_range(addr, len)?;
        self.syscall("mprotect", NR_MPROTECT, [addr, len, prot(perms), 0, 0, 0])
            .map(drop)
    }

    /// Kill the stub and every tracee in it; the space cannot be used afterwards.
    pub fn release(&self) {
        if self.shared.released.swap(true, Ordering::AcqRel) {
            return;
        }
        // Tracees first, while their parent (the leader, which ignores SIGCHLD) still
        // lives: then nothing is left for init to collect.
        let tracees = std::mem::take(&mut *lock(&self.shared.tracees));
        for tracee in tracees.iter().filter_map(Weak::upgrade) {
            tracee.kill_and_reap();
        }
        lock(&self.shared.injectors).clear();
        self.shared.master.release(self.shared.leader);
    }

    /// The stub's leader process, which is also the process group of all its processes
    /// (for diagnostics and tests).
    pub fn stub_pid(&self) -> i32 {
        self.shared.leader
    }

    pub(super) fn id(&self) -> u64 {
        self.shared.id
    }

    pub(super) fn is_released(&self) -> bool {
        self.shared.is_released()
    }

    /// A new tracee in this space, traced by the calling thread.
    pub(super) fn new_tracee(&self) -> Result<Arc<Tracee>> {
        if self.is_released() {
            return Err(Error::Released);
        }
        // A process sharing the stub's memory and descriptors, dying with the leader;
        // CLONE_UNTRACED keeps the leader's tracer from inheriting it.
        let flags =
            (libc::CLONE_VM | libc::CLONE_FILES | libc::CLONE_UNTRACED | libc::SIGCHLD) as u64;
        self.shared.stats.stub_syscall();
        self.shared.stats.tracee();
        let pid = self.shared.master.syscall(
            self.shared.leader,
            Entry::Clone,
            NR_CLONE,
            [flags, 0, 0, 0, 0, 0],
        )?;
        if pid <= 0 {
            return Err(Error::StubSyscall {
                call: "clone",
                source: io::Error::from_raw_os_error(-pid as i32),
                hint: "",
            });
        }
        let tracee = Arc::new(Tracee::seize(pid as Pid, self.shared.clone())?);
        let mut tracees = lock(&self.shared.tracees);
        tracees.retain(|t| t.strong_count() > 0);
        tracees.push(Arc::downgrade(&tracee));
        drop(tracees);
        let mut injectors = lock(&self.shared.injectors);
        injectors.retain(|_, ts| {
            ts.retain(|t| t.strong_count() > 0);
            !ts.is_empty()
        });
        injectors
            .entry(sys::gettid())
            .or_default()
            .push(Arc::downgrade(&tracee));
        drop(injectors);
        if self.is_released() {
            // Released while we seized it: make sure it does not outlive the space.
            tracee.kill_and_reap();
            return Err(Error::Released);
        }
        Ok(tracee)
    }

    /// A live tracee of this space that the calling thread traces, if any.
    fn injector(&self) -> Option<Arc<Tracee>> {
        let tid = sys::gettid();
        lock(&self.shared.injectors)
            .get(&tid)?
            .iter()
            .filter_map(Weak::upgrade)
            .find(|t| t.is_live() && t.traced_here())
    }

    /// Run a system call in the stub: in the calling thread's own tracee when it has one,
    /// else in the leader through the stub thread.
    fn syscall(&self, call: &'static str, nr: u64, args: [u64; 6]) -> Result<u64> {
        if self.is_released() {
            return Err(Error::Released);
        }
        self.shared.stats.stub_syscall();
        let injected = match self.injector() {
            Some(tracee) => match tracee.inject(nr, args) {
                Err(Error::StubDied { .. }) => None, // its context is going away: use the leader
                other => Some(other),
            },
            None => None,
        };
        let ret = match injected {
            Some(result) => result?,
            None => self
                .shared
                .master
                .syscall(self.shared.leader, Entry::Syscall, nr, args)?,
        };
        if ret < 0 {
            let hint = if nr == NR_MMAP && args[2] & libc::PROT_EXEC as u64 != 0 {
                " (an executable mapping of the memory file: is vm.memfd_noexec set?)"
            } else {
                ""
            };
            return Err(Error::StubSyscall {
                call,
                source: io::Error::from_raw_os_error(-ret as i32),
                hint,
            });
        }
        Ok(ret as u64)
    }
}

impl Drop for AddressSpace {
    fn drop(&mut self) {
        self.release();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn prot(perms: Perms) -> u64 {
    let mut prot = 0;
    if let Some(p) = perms.effective() {
        if p.contains(Perms::READ) {
            prot |= libc::PROT_READ;
        }
        if p.contains(Perms::WRITE) {
            prot |= libc::PROT_WRITE;
        }
        if p.contains(Perms::EXECUTE) {
            prot |= libc::PROT_EXEC;
        }
    }
    prot as u64
}

fn check_range(addr: u64, len: u64) -> Result<()> {
    let why = if !addr.is_multiple_of(PAGE) || !len.is_multiple_of(PAGE) || len == 0 {
        "not page-aligned or empty"
    } else if addr < USER_RANGE.0 || addr.checked_add(len).is_none_or(|end| end > USER_RANGE.1) {
        "outside the application address range"
    } else {
        return Ok(());
    };
    Err(Error::InvalidRange { addr, len, why })
}
