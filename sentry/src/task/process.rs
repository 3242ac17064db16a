//! The process table: parents, children and exit statuses, so `wait4` can reap.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard};

use abi::Errno;

use super::ExitStatus;

struct Proc {
    parent: i32,
    exit: Option<ExitStatus>,
}

/// Every process of a sandbox.
#[derive(Default)]
pub struct Processes {
    table: Mutex<HashMap<i32, Proc>>,
    changed: Condvar,
}

/// Which children `wait4` is after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitFor {
    Any,
    Pid(i32),
}

impl Processes {
    fn lock(&self) -> MutexGuard<'_, HashMap<i32, Proc>> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn add(&self, pid: i32, parent: i32) {
        self.lock().insert(pid, Proc { parent, exit: None });
    }

    /// Record that `pid` ended; its children go to `reaper` (the sandbox's first process).
    pub fn exited(&self, pid: i32, status: ExitStatus, reaper: i32) {
        let mut table = self.lock();
        if let Some(p) = table.get_mut(&pid) {
            p.exit = Some(status);
        }
        for p in table.values_mut() {
            if p.parent == pid && pid != reaper {
                p.parent = reaper;
            }
        }
        drop(table);
        self.changed.notify_all();
    }

    /// Wake every waiter to re-check its condition (a signal arrived).
    pub fn wake_all(&self) {
        let _table = self.lock();
        self.changed.notify_all();
    }

    /// Reap a child of `parent` that has exited, waiting for one unless `nohang`.
    /// `Ok(None)` with `nohang` and no zombie yet; ECHILD when there is no such child;
    /// `ERESTARTSYS` when `interrupted` turns true while waiting.
    pub fn wait(
        &self,
        parent: i32,
        which: WaitFor,
        nohang: bool,
        interrupted: &dyn Fn() -> bool,
    ) -> Result<Option<(i32, ExitStatus)>, Errno> {
        let mut table = self.lock();
        loop {
            let mine = |(pid, p): (&i32, &Proc)| {
                p.parent == parent && (which == WaitFor::Any || which == WaitFor::Pid(*pid))
            };
            if !table.iter().any(mine) {
                return Err(Errno::ECHILD);
            }
            let zombie = table
                .iter()
                .filter(|e| mine(*e))
                .find_map(|(pid, p)| p.exit.map(|s| (*pid, s)));
            if let Some((pid, status)) = zombie {
                table.remove(&pid);
                return Ok(Some((pid, status)));
            }
            if nohang {
                return Ok(None);
            }
            if interrupted() {
                return Err(Errno::new(512)); // ERESTARTSYS
            }
            table = self.changed.wait(table).unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl ExitStatus {
    /// The `wstatus` word of wait4.
    pub fn wait_status(self) -> i32 {
        match self {
            ExitStatus::Exited(code) => (code & 0xff) << 8,
            ExitStatus::Signaled(sig) => sig & 0x7f,
        }
    }
}
