//! Blocking inside the sentry: a task thread sleeps on wait queues until what it waits for
//! is ready, a signal arrives (the syscall then returns a restart errno), or a deadline.

use std::cell::RefCell;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use abi::Errno;

use crate::signal::{ThreadSignals, Wake};

thread_local! {
    /// The signal state of the task running on this host thread.
    static CURRENT: RefCell<Option<Arc<ThreadSignals>>> = const { RefCell::new(None) };
}

/// Make `t` the current task of this host thread (the task loop does this).
pub fn set_current(t: Arc<ThreadSignals>) {
    CURRENT.with(|c| *c.borrow_mut() = Some(t));
}

fn current() -> Option<Arc<ThreadSignals>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Whether the task on this host thread must stop waiting (a signal to handle, or exit).
pub fn interrupted() -> bool {
    current().is_some_and(|t| t.has_deliverable())
}

/// Threads waiting for something to change.
#[derive(Default)]
pub struct WaitQueue {
    waiters: Mutex<Vec<Arc<ThreadSignals>>>,
}

impl WaitQueue {
    /// Wake every waiter to re-check its condition.
    pub fn notify(&self) {
        let waiters = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
        for w in waiters.iter() {
            w.poke();
        }
    }

    fn add(&self, t: &Arc<ThreadSignals>) {
        self.waiters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(t.clone());
    }

    fn remove(&self, t: &Arc<ThreadSignals>) {
        let mut waiters = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = waiters.iter().position(|w| Arc::ptr_eq(w, t)) {
            waiters.swap_remove(i);
        }
    }
}

/// ERESTARTSYS: the syscall restarts after a handler with SA_RESTART, else EINTR.
pub const ERESTARTSYS: Errno = Errno::new(512);

/// Block until `ready()` holds, waking whenever one of `queues` is notified. Fails with
/// `ERESTARTSYS` when a signal arrives and `ETIMEDOUT` at `deadline`.
pub fn block_on(
    queues: &[&WaitQueue],
    deadline: Option<Instant>,
    mut ready: impl FnMut() -> bool,
) -> Result<(), Errno> {
    let Some(me) = current() else {
        // Not on a task thread (tests of file code): nothing can wake us but a deadline.
        return if ready() { Ok(()) } else { Err(Errno::EAGAIN) };
    };
    loop {
        if ready() {
            return Ok(());
        }
        me.clear_poke();
        for q in queues {
            q.add(&me);
        }
        // Re-check after registering: a change between the first check and here would
        // otherwise be missed.
        let wake = if ready() {
            Wake::Woken
        } else {
            me.wait_poke(deadline)
        };
        for q in queues {
            q.remove(&me);
        }
        match wake {
            Wake::Woken => continue,
            Wake::Interrupted => return if ready() { Ok(()) } else { Err(ERESTARTSYS) },
            Wake::TimedOut => {
                return if ready() {
                    Ok(())
                } else {
                    Err(Errno::ETIMEDOUT)
                };
            }
        }
    }
}

/// Sleep until `deadline`; a signal to handle ends the sleep early with `ERESTARTSYS`.
pub fn sleep_until(deadline: Instant) -> Result<(), Errno> {
    if current().is_none() {
        // Not on a task thread: nothing can interrupt the sleep.
        std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
        return Ok(());
    }
    match block_on(&[], Some(deadline), || false) {
        Err(Errno::ETIMEDOUT) => Ok(()),
        other => other,
    }
}
