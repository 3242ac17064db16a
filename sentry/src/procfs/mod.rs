//! procfs: /proc as a synthetic file system over the sentry's processes.
//!
//! Processes register a [`ProcessView`] (type-erased, so the file system needs no platform
//! type); `/proc/self` follows the task running on the calling host thread.

mod process;
mod system;

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, Weak};

use abi::Errno;

pub use process::ProcView;

use crate::vfs::synthetic::{FnLink, SynthDir, SynthFs, SynthNode};

thread_local! {
    /// The process of the task on this host thread, for /proc/self.
    static CURRENT_PID: Cell<i32> = const { Cell::new(0) };
}

pub fn set_current_pid(pid: i32) {
    CURRENT_PID.with(|c| c.set(pid));
}

/// What procfs shows of one process.
pub trait ProcessView: Send + Sync {
    fn pid(&self) -> i32;
    fn ppid(&self) -> i32;
    fn comm(&self) -> Vec<u8>;
    fn exe(&self) -> Vec<u8>;
    fn cwd(&self) -> Vec<u8>;
    fn cmdline(&self) -> Vec<u8>;
    /// Descriptors and what their links point to.
    fn fds(&self) -> Vec<(i32, Vec<u8>)>;
    /// `/proc/<pid>/maps` lines.
    fn maps(&self) -> String;
    /// Resident pages.
    fn resident(&self) -> usize;
    fn threads(&self) -> usize;
    /// Identity and umask (from the process's filesystem context).
    fn creds(&self) -> (crate::vfs::Creds, u32);
}

/// The processes procfs knows.
#[derive(Default)]
pub struct Procs {
    table: Mutex<BTreeMap<i32, Weak<dyn ProcessView>>>,
}

impl Procs {
    pub fn register(&self, view: &Arc<dyn ProcessView>) {
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        table.retain(|_, v| v.strong_count() > 0);
        table.insert(view.pid(), Arc::downgrade(view));
    }

    fn get(&self, pid: i32) -> Option<Arc<dyn ProcessView>> {
        let table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        table.get(&pid).and_then(Weak::upgrade)
    }

    fn pids(&self) -> Vec<i32> {
        let table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        table
            .iter()
            .filter(|(_, v)| v.strong_count() > 0)
            .map(|(p, _)| *p)
            .collect()
    }
}

/// The root of /proc.
struct Root {
    procs: Arc<Procs>,
    memory: u64,
    /// The tree this procfs is mounted in, for `mounts` (weak: the tree holds the procfs).
    vfs: std::sync::Weak<crate::vfs::Vfs>,
}

impl SynthDir for Root {
    fn entries(&self) -> Result<Vec<(Vec<u8>, SynthNode)>, Errno> {
        let mut out = system::files(self.memory, self.vfs.clone());
        out.push((
            b"self".to_vec(),
            FnLink::node(|| Ok(CURRENT_PID.with(Cell::get).to_string().into_bytes())),
        ));
        for pid in self.procs.pids() {
            if let Some(view) = self.procs.get(pid) {
                out.push((pid.to_string().into_bytes(), process::dir(view)));
            }
        }
        Ok(out)
    }

    fn lookup(&self, name: &[u8]) -> Result<SynthNode, Errno> {
        let pid = std::str::from_utf8(name)
            .ok()
            .and_then(|s| s.parse::<i32>().ok());
        if let Some(pid) = pid {
            return self.procs.get(pid).map(process::dir).ok_or(Errno::ENOENT);
        }
        self.entries()?
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, node)| node)
            .ok_or(Errno::ENOENT)
    }
}

/// A procfs over `procs`; `memory` is the sandbox's memory for meminfo; `vfs` the tree it is
/// mounted in.
pub fn new(procs: Arc<Procs>, memory: u64, vfs: std::sync::Weak<crate::vfs::Vfs>) -> Arc<SynthFs> {
    SynthFs::new("proc", Arc::new(Root { procs, memory, vfs }))
}
