//! Kicking a context's thread out of the guest: what `Interrupter::interrupt`, the vCPU
//! pool's preemption and TLB shoot-downs use. A thread registers while it runs a context (in
//! `KVM_RUN`, or in guest mode, where the kick signal's handler finds its vCPU); a kick sets
//! the vCPU's `immediate_exit` and signals the thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Once, Weak};

use kvm_bindings::kvm_run;

/// Lets another thread kick a context out of application code.
#[derive(Clone)]
pub struct Interrupter(pub(crate) Arc<Shared>);

#[derive(Default)]
pub(crate) struct Shared {
    pub(crate) pending: AtomicBool,
    running: Mutex<Option<Running>>,
    runs: std::sync::atomic::AtomicU64,
}

/// The thread in `KVM_RUN` for a context, and its vCPU's run structure (null in guest mode,
/// where the kick signal's handler finds it).
struct Running {
    thread: libc::pthread_t,
    run: *mut kvm_run,
    /// Already kicked during this run: one signal is enough, and real-time signals queue,
    /// so repeated kicks would keep the thread busy handling them.
    kicked: bool,
    /// The address space it runs, and which run this is (see `Machine::shoot_down`).
    space: u64,
    seq: u64,
}

// SAFETY: `run` points into the vCPU's kvm_run mapping, which lives as long as the machine;
// it is only written (one byte, `immediate_exit`) while the owning thread has registered it
// under the `running` lock, so sending the pointer between threads is sound.
unsafe impl Send for Running {}

impl Interrupter {
    /// Make the context's current or next `switch` return `Trap::Interrupted` promptly.
    pub fn interrupt(&self) {
        self.0.pending.store(true, Ordering::Release);
        self.0.kick();
    }
}

impl Shared {
    /// A new context's kick state, listed in `contexts` (its machine's) for shoot-downs.
    pub(crate) fn registered_in(contexts: &Mutex<Vec<Weak<Shared>>>) -> Arc<Shared> {
        let shared = Arc::<Shared>::default();
        let mut contexts = contexts.lock().unwrap_or_else(|e| e.into_inner());
        contexts.retain(|c| c.strong_count() > 0);
        contexts.push(Arc::downgrade(&shared));
        shared
    }

    /// The calling thread runs address space `space` for this context now (in `KVM_RUN` on
    /// the vCPU whose kvm_run is `run`, or, in guest mode, null), so kicks can reach it.
    pub(crate) fn register(&self, run: *mut kvm_run, space: u64) {
        *self.running.lock().unwrap_or_else(|e| e.into_inner()) = Some(Running {
            // SAFETY: pthread_self has no preconditions.
            thread: unsafe { libc::pthread_self() },
            run,
            kicked: false,
            space,
            seq: self.runs.fetch_add(1, Ordering::Relaxed),
        });
    }

    pub(crate) fn unregister(&self) {
        *self.running.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The run in progress, if the context runs address space `space` on a thread other than
    /// the caller's.
    pub(crate) fn running_elsewhere(&self, space: u64) -> Option<u64> {
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: pthread_self has no preconditions.
        let me = unsafe { libc::pthread_self() };
        // SAFETY: pthread_equal only compares two thread ids.
        let other = |t: libc::pthread_t| unsafe { libc::pthread_equal(t, me) } == 0;
        running
            .as_ref()
            .filter(|r| r.space == space && other(r.thread))
            .map(|r| r.seq)
    }

    /// Whether run `seq` is still in progress.
    pub(crate) fn still_running(&self, seq: u64) -> bool {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_some_and(|r| r.seq == seq)
    }

    /// Knock the context's thread out of `KVM_RUN` if it is there.
    pub(crate) fn kick(&self) {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = running.as_mut().filter(|r| !r.kicked) {
            r.kicked = true;
            if !r.run.is_null() {
                // SAFETY: while registered, `r.run` is the live kvm_run mapping of the vCPU
                // the context's thread is running; a one-byte volatile store to
                // `immediate_exit` is how KVM documents asynchronous kicks.
                unsafe { std::ptr::write_volatile(&raw mut (*r.run).immediate_exit, 1) };
            }
            // SAFETY: the thread is registered, so it is alive (it unregisters under this
            // lock before it can exit); the kick signal has a no-op handler.
            unsafe { libc::pthread_kill(r.thread, kick_signal()) };
        }
    }
}

/// The signal that knocks a thread out of `KVM_RUN`.
pub(crate) fn kick_signal() -> i32 {
    libc::SIGRTMIN() + 3
}

pub(crate) fn install_kick_handler() {
    static ONCE: Once = Once::new();
    extern "C" fn on_kick(_: libc::c_int) {
        crate::arch::on_kick();
    }
    ONCE.call_once(|| {
        // SAFETY: a zeroed sigaction is a valid starting value; the handler is
        // async-signal-safe.
        // SA_RESTART keeps the kick from failing unrelated host calls with EINTR (KVM_RUN
        // still returns EINTR).
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_kick as extern "C" fn(libc::c_int) as usize;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(kick_signal(), &sa, std::ptr::null_mut());
        }
    });
}

/// Takes every other thread that runs address space `space` out of it, and waits until
/// each has left (its next run reloads the space's translations). Like a TLB shoot-down
/// IPI on Linux; bounded, so a thread that cannot be reached cannot hang the caller.
pub(crate) fn shoot_down(contexts: &Mutex<Vec<Weak<Shared>>>, space: u64) {
    let targets: Vec<_> = contexts
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter_map(std::sync::Weak::upgrade)
        .filter_map(|shared| Some((shared.running_elsewhere(space)?, shared)))
        .collect();
    if targets.is_empty() {
        return;
    }
    for (_, shared) in &targets {
        shared.kick();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    for (seq, shared) in targets {
        while shared.still_running(seq) {
            if std::time::Instant::now() > deadline {
                tracing::warn!("a thread did not leave its application within 2 s of an unmap");
                return;
            }
            std::thread::sleep(std::time::Duration::from_micros(50));
        }
    }
}
