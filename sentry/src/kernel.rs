//! The kernel: what every task of one sandbox shares — the platform, the memory file's page
//! allocator, PIDs and statistics.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use abi::SigInfo;

use crate::futex::Futexes;
use crate::mm::Frames;
use crate::procfs::Procs;
use crate::signal::ThreadSignals;
use crate::task::{Processes, ThreadGroup};
use crate::vfs::Vfs;

use crate::platform::Platform;

/// Counters for `--stats`.
#[derive(Default)]
pub struct Stats {
    pub syscalls: AtomicU64,
    pub page_faults: AtomicU64,
    pub enosys: AtomicU64,
    by_number: Mutex<BTreeMap<u32, u64>>,
    reported: Mutex<HashSet<u32>>,
}

impl Stats {
    pub(crate) fn count_syscall(&self, nr: u32) {
        self.syscalls.fetch_add(1, Ordering::Relaxed);
        *self
            .by_number
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(nr)
            .or_default() += 1;
    }

    /// Count an unsupported syscall; true the first time this number is seen.
    pub(crate) fn count_enosys(&self, nr: u32) -> bool {
        self.enosys.fetch_add(1, Ordering::Relaxed);
        self.reported
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(nr)
    }

    /// Syscall numbers by count, highest first.
    pub fn top_syscalls(&self, n: usize) -> Vec<(u32, u64)> {
        let by = self.by_number.lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<(u32, u64)> = by.iter().map(|(k, c)| (*k, *c)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }
}

pub struct Kernel<P: Platform> {
    pub platform: Arc<P>,
    pub frames: Arc<Frames>,
    pub stats: Stats,
    pub processes: Processes,
    threads: Mutex<HashMap<i32, Arc<ThreadSignals>>>,
    groups: Mutex<HashMap<i32, Arc<ThreadGroup>>>,
    pub futexes: Futexes,
    /// What /proc shows.
    pub procs: Arc<Procs>,
    hostname: Mutex<String>,
    /// The sandbox's file system.
    pub vfs: Arc<Vfs>,
    pub started: Instant,
    next_pid: AtomicI32,
}

impl<P: Platform> Kernel<P> {
    pub fn new(platform: P, vfs: Arc<Vfs>) -> Arc<Kernel<P>> {
        let frames = Arc::new(Frames::new(platform.memory()));
        Arc::new(Kernel {
            platform: Arc::new(platform),
            frames,
            stats: Stats::default(),
            processes: Processes::default(),
            threads: Mutex::new(HashMap::new()),
            groups: Mutex::new(HashMap::new()),
            futexes: Futexes::default(),
            procs: Arc::default(),
            hostname: Mutex::new("ringfence".to_string()),
            vfs,
            started: Instant::now(),
            next_pid: AtomicI32::new(1),
        })
    }

    pub fn register_thread(&self, t: Arc<ThreadSignals>) {
        self.threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(t.tid, t);
    }

    pub fn unregister_thread(&self, tid: i32) {
        self.threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&tid);
    }

    /// The thread `tid`, if it is alive.
    pub fn thread(&self, tid: i32) -> Option<Arc<ThreadSignals>> {
        self.threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&tid)
            .cloned()
    }

    pub fn register_group(&self, g: Arc<ThreadGroup>) {
        self.groups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(g.tgid, g);
    }

    pub fn unregister_group(&self, tgid: i32) {
        self.groups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&tgid);
    }

    fn group(&self, tgid: i32) -> Option<Arc<ThreadGroup>> {
        self.groups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&tgid)
            .cloned()
    }

    /// Every live process id.
    pub fn process_ids(&self) -> Vec<i32> {
        let groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
        groups.keys().copied().collect()
    }

    /// Whether process `pid` exists.
    pub fn process_exists(&self, pid: i32) -> bool {
        self.group(pid).is_some()
    }

    /// Send a signal to process `pid` (to one of its threads that does not block it); false
    /// if there is none. Blocked waits in the sentry wake up to notice it.
    pub fn signal_process(&self, pid: i32, info: SigInfo) -> bool {
        let Some(t) = self.group(pid).and_then(|g| g.target(info.si_signo)) else {
            return false;
        };
        t.send(info);
        self.processes.wake_all();
        true
    }

    /// uname's nodename.
    pub fn hostname(&self) -> String {
        self.hostname
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn set_hostname(&self, name: &str) {
        *self.hostname.lock().unwrap_or_else(|e| e.into_inner()) = name.to_string();
    }

    /// The sandbox's first process, which inherits orphans.
    pub fn init_pid(&self) -> i32 {
        1
    }

    /// A fresh PID/TID.
    pub fn alloc_pid(&self) -> i32 {
        self.next_pid.fetch_add(1, Ordering::Relaxed)
    }
}
