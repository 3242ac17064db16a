//! The vCPU pool. All vCPUs are created up front; a context borrows one for each switch,
//! preferring the one it used last (whose TLB may still hold its translations). The
//! application's registers travel in the vCPU's frame, so any vCPU can run any context.
//!
//! When every vCPU is taken for longer than a time slice (applications computing), a waiter
//! asks the longest holder for its vCPU back: it knocks it out of `KVM_RUN` (its switch
//! returns "interrupted") and that thread lets the waiters go first next time.

use std::cell::Cell;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use kvm_bindings::kvm_run;

use super::vcpu::Vcpu;

struct Slot {
    vcpu: Option<Vcpu>,
    holder: Option<Holder>,
}

/// A thread holding a vCPU, and how to ask for it back.
struct Holder {
    thread: libc::pthread_t,
    run: *mut kvm_run,
    since: Instant,
    asked: bool,
}

// SAFETY: `run` is the vCPU's kvm_run mapping, which lives as long as the machine; the pool
// only writes `immediate_exit` through it, under the slots lock, as KVM documents for
// asynchronous kicks.
unsafe impl Send for Holder {}

const SLICE: Duration = Duration::from_millis(10);

thread_local! {
    static YIELD_NEXT: Cell<bool> = const { Cell::new(false) };
}

pub(crate) struct VcpuPool {
    slots: Mutex<Vec<Slot>>,
    freed: Condvar,
    waiters: std::sync::atomic::AtomicUsize,
}

impl VcpuPool {
    pub(crate) fn new(vcpus: Vec<Vcpu>) -> VcpuPool {
        super::context::install_kick_handler();
        VcpuPool {
            slots: Mutex::new(
                vcpus
                    .into_iter()
                    .map(|v| Slot {
                        vcpu: Some(v),
                        holder: None,
                    })
                    .collect(),
            ),
            freed: Condvar::new(),
            waiters: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Take a vCPU, `preferred` if it is free, waiting if all are busy.
    pub(crate) fn acquire(&self, preferred: Option<usize>) -> Vcpu {
        use std::sync::atomic::Ordering::Relaxed;
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if YIELD_NEXT.with(|y| y.replace(false)) && self.waiters.load(Relaxed) > 0 {
            slots = self
                .freed
                .wait_timeout(slots, SLICE)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        loop {
            let chosen = preferred
                .filter(|&i| slots.get(i).is_some_and(|s| s.vcpu.is_some()))
                .or_else(|| slots.iter().position(|s| s.vcpu.is_some()));
            if let Some(i) = chosen {
                let slot = &mut slots[i];
                let mut vcpu = slot.vcpu.take().expect("chosen slot is free");
                slot.holder = Some(Holder {
                    // SAFETY: pthread_self has no preconditions.
                    thread: unsafe { libc::pthread_self() },
                    run: std::ptr::from_mut(vcpu.fd.get_kvm_run()),
                    since: Instant::now(),
                    asked: false,
                });
                return vcpu;
            }
            self.waiters.fetch_add(1, Relaxed);
            let (guard, waited) = self
                .freed
                .wait_timeout(slots, SLICE)
                .unwrap_or_else(|e| e.into_inner());
            self.waiters.fetch_sub(1, Relaxed);
            slots = guard;
            if waited.timed_out() {
                ask_longest_holder(&mut slots);
            }
        }
    }

    pub(crate) fn release(&self, vcpu: Vcpu) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let i = vcpu.index;
        slots[i].vcpu = Some(vcpu);
        if slots[i].holder.take().is_some_and(|h| h.asked) {
            YIELD_NEXT.with(|y| y.set(true));
        }
        drop(slots);
        self.freed.notify_one();
    }
}

/// Asks the thread that has held its vCPU longest (and was not asked yet) to give it back.
fn ask_longest_holder(slots: &mut [Slot]) {
    let Some(h) = slots
        .iter_mut()
        .filter_map(|s| s.holder.as_mut())
        .filter(|h| !h.asked && h.since.elapsed() >= SLICE)
        .min_by_key(|h| h.since)
    else {
        return;
    };
    h.asked = true;
    // SAFETY: `run` is the held vCPU's live kvm_run mapping (see `Holder`).
    unsafe { std::ptr::write_volatile(&raw mut (*h.run).immediate_exit, 1) };
    // SAFETY: the holder is alive while it holds the vCPU (it gives it back, under the lock
    // held here, before it ends); the kick signal's handler is installed (VcpuPool::new).
    unsafe { libc::pthread_kill(h.thread, super::context::kick_signal()) };
}
