//! Thread groups: the threads of one process, and how the group ends.

use std::sync::{Arc, Mutex, MutexGuard};

use super::ExitStatus;
use crate::signal::ThreadSignals;

/// The threads of one process.
pub struct ThreadGroup {
    pub tgid: i32,
    inner: Mutex<Inner>,
    /// The process's resource limits, shared by its threads.
    pub rlimits: Mutex<super::rlimits::Rlimits>,
}

struct Inner {
    threads: Vec<Arc<ThreadSignals>>,
    /// Set by exit_group or a fatal signal: every thread leaves.
    exit: Option<ExitStatus>,
}

impl ThreadGroup {
    pub fn new(tgid: i32) -> Arc<ThreadGroup> {
        Arc::new(ThreadGroup {
            tgid,
            inner: Mutex::new(Inner {
                threads: Vec::new(),
                exit: None,
            }),
            rlimits: Mutex::default(),
        })
    }

    /// The resource limits, locked.
    pub fn limits(&self) -> MutexGuard<'_, super::rlimits::Rlimits> {
        self.rlimits.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn add(&self, thread: Arc<ThreadSignals>) {
        self.lock().threads.push(thread);
    }

    /// Remove a thread; true if it was the last.
    pub fn remove(&self, tid: i32) -> bool {
        let mut inner = self.lock();
        inner.threads.retain(|t| t.tid != tid);
        inner.threads.is_empty()
    }

    /// End the whole group with `status` (the first caller's status wins) and make every
    /// thread notice.
    pub fn exit(&self, status: ExitStatus) {
        let threads = {
            let mut inner = self.lock();
            inner.exit.get_or_insert(status);
            inner.threads.clone()
        };
        for t in threads {
            t.kill();
        }
    }

    /// The group's exit status once it is ending.
    pub fn exiting(&self) -> Option<ExitStatus> {
        self.lock().exit
    }

    /// The thread a process-directed signal goes to: one that does not block it, else the
    /// first (the leader while it lives).
    pub fn target(&self, sig: i32) -> Option<Arc<ThreadSignals>> {
        let inner = self.lock();
        inner
            .threads
            .iter()
            .find(|t| !t.lock().mask.contains(sig))
            .or_else(|| inner.threads.first())
            .cloned()
    }
}
