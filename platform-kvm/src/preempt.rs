//! Time slices for the vCPU pools: when every vCPU is taken, a waiter asks the thread that
//! has held one longest to give it back (it knocks it out of `KVM_RUN`, so its switch returns
//! "interrupted"), and a thread that gave its vCPU back that way lets the waiters go first.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Condvar, MutexGuard};
use std::time::{Duration, Instant};

use kvm_bindings::kvm_run;

/// How long a waiter lets the holders run before asking one for its vCPU.
pub(crate) const SLICE: Duration = Duration::from_millis(10);

thread_local! {
    /// This thread gave its vCPU back because a waiter asked: it lets waiters go first.
    static YIELD_NEXT: Cell<bool> = const { Cell::new(false) };
}

/// A thread holding a vCPU, and how to ask for it back.
pub(crate) struct Holder {
    thread: libc::pthread_t,
    run: *mut kvm_run,
    since: Instant,
    asked: bool,
}

// SAFETY: `run` is the vCPU's kvm_run mapping, which lives as long as the machine; the pools
// only write `immediate_exit` through it, under their slots lock, which is how KVM documents
// asynchronous kicks.
unsafe impl Send for Holder {}

impl Holder {
    /// The calling thread, from now, holding the vCPU whose kvm_run is `run`.
    pub(crate) fn me(run: *mut kvm_run) -> Holder {
        Holder {
            // SAFETY: pthread_self has no preconditions.
            thread: unsafe { libc::pthread_self() },
            run,
            since: Instant::now(),
            asked: false,
        }
    }

    /// The holder gives the vCPU back; if it was asked to, it lets waiters go first next time.
    pub(crate) fn release(self) {
        if self.asked {
            YIELD_NEXT.with(|y| y.set(true));
        }
    }
}

/// Threads waiting for a vCPU of a pool, and the wake-up when one is given back.
#[derive(Default)]
pub(crate) struct Waiting {
    freed: Condvar,
    waiters: AtomicUsize,
}

impl Waiting {
    /// With the pool's lock held: if this thread gave its vCPU back because a waiter asked,
    /// and threads wait, lets them go first (for one slice at most).
    pub(crate) fn yield_first<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        if !(YIELD_NEXT.with(|y| y.replace(false)) && self.waiters.load(Relaxed) > 0) {
            return guard;
        }
        self.freed
            .wait_timeout(guard, SLICE)
            .unwrap_or_else(|e| e.into_inner())
            .0
    }

    /// Waits (releasing the pool's lock) for a vCPU to be given back, one slice at most;
    /// whether the slice passed without one.
    pub(crate) fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> (MutexGuard<'a, T>, bool) {
        self.waiters.fetch_add(1, Relaxed);
        let (guard, waited) = self
            .freed
            .wait_timeout(guard, SLICE)
            .unwrap_or_else(|e| e.into_inner());
        self.waiters.fetch_sub(1, Relaxed);
        (guard, waited.timed_out())
    }

    /// A vCPU was given back.
    pub(crate) fn notify(&self) {
        self.freed.notify_one();
    }
}

/// Asks the holder that has held its vCPU longest (and was not asked yet) to give it back.
/// The caller holds its pool's slots lock, under which holders release their vCPUs.
pub(crate) fn ask_longest_holder<'a>(holders: impl Iterator<Item = &'a mut Holder>) {
    let Some(h) = holders
        .filter(|h| !h.asked && h.since.elapsed() >= SLICE)
        .min_by_key(|h| h.since)
    else {
        return;
    };
    h.asked = true;
    // SAFETY: `run` is the held vCPU's live kvm_run mapping (see `Holder`).
    unsafe { std::ptr::write_volatile(&raw mut (*h.run).immediate_exit, 1) };
    // SAFETY: the holder is alive while it holds the vCPU (it gives it back, under the lock
    // the caller holds, before it ends); the kick signal's handler is installed by the pools.
    unsafe { libc::pthread_kill(h.thread, crate::kick::kick_signal()) };
}
