//! Tasks: one host thread per application thread, running the task loop — switch to the
//! application, handle what it trapped for, repeat.

mod group;
mod process;
pub mod rlimits;
mod signals;

use std::sync::{Arc, Mutex};

use abi::Errno;
use abi::signal::{SIGBUS, SIGFPE, SIGILL, SIGSEGV, SIGTRAP};

use crate::procfs::{ProcView, ProcessView};
use crate::signal::{self, Actions, Alarm, ThreadSignals};
use crate::vfs::{FdTable, FsContext};

pub use group::ThreadGroup;
pub use process::{Processes, WaitFor};

use crate::kernel::Kernel;
use crate::mm::MemoryManager;
use crate::platform::{Context, Platform, Regs, Trap};
use crate::syscalls;

/// How a thread group ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    Exited(i32),
    Signaled(i32),
}

impl ExitStatus {
    /// The shell's view: the code, or 128 + the signal.
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Exited(c) => c & 0xff,
            ExitStatus::Signaled(s) => 128 + s,
        }
    }
}

pub struct Task<P: Platform> {
    pub kernel: Arc<Kernel<P>>,
    pub tid: i32,
    pub tgid: i32,
    pub ppid: i32,
    pub regs: Regs,
    pub mm: Arc<Mutex<MemoryManager<P>>>,
    /// Descriptors (shared with CLONE_FILES).
    pub fds: Arc<FdTable>,
    /// Root, working directory, umask, credentials (shared with CLONE_FS).
    pub fs: Arc<Mutex<FsContext>>,
    pub clear_child_tid: u64,
    ctx: P::Context,
    /// The process this thread belongs to.
    pub group: Arc<ThreadGroup>,
    /// Set by `exit`: this thread ends (the process with it if it is the last).
    thread_exit: Option<i32>,
    /// Set for a vfork child: released when it execs or exits.
    pub vfork_done: Option<Arc<VforkDone>>,
    /// This thread's pending signals and mask, reachable by senders.
    pub signals: Arc<ThreadSignals>,
    /// The process's signal actions.
    pub actions: Actions,
    /// The process's alarm(2) timer.
    pub alarm: Arc<Mutex<Alarm>>,
    /// What /proc shows of this thread's process.
    pub proc: Arc<ProcView<P>>,
    /// The thread's name (prctl PR_SET_NAME; /proc/…/comm).
    pub comm: [u8; 16],
    /// The syscall whose result is in the return register (number, first argument), until
    /// the task returns to the application: what a restart needs.
    pub syscall: Option<(u64, u64)>,
}

/// The parent of a vfork sleeps until its child execs or exits.
#[derive(Default)]
pub struct VforkDone {
    done: Mutex<bool>,
    cond: std::sync::Condvar,
}

impl VforkDone {
    pub fn release(&self) {
        *self.done.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.cond.notify_all();
    }

    pub fn wait(&self) {
        let mut done = self.done.lock().unwrap_or_else(|e| e.into_inner());
        while !*done {
            done = self.cond.wait(done).unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl<P: Platform> Task<P> {
    /// A new process (thread-group leader) whose parent is `ppid`.
    pub fn new_process(
        kernel: Arc<Kernel<P>>,
        ppid: i32,
        mm: Arc<Mutex<MemoryManager<P>>>,
        regs: Regs,
        fds: Arc<FdTable>,
        fs: Arc<Mutex<FsContext>>,
    ) -> Self {
        let tid = kernel.alloc_pid();
        kernel.processes.add(tid, ppid);
        let group = ThreadGroup::new(tid);
        kernel.register_group(group.clone());
        let proc = Arc::new(ProcView {
            pid: tid,
            ppid,
            vfs: kernel.vfs.clone(),
            mm: Mutex::new(mm.clone()),
            fds: fds.clone(),
            fs: fs.clone(),
            exe: Mutex::default(),
            cmdline: Mutex::default(),
            comm: Mutex::default(),
            threads: Default::default(),
        });
        let view: Arc<dyn ProcessView> = proc.clone();
        kernel.procs.register(&view);
        Self::with_group(
            kernel,
            tid,
            group,
            ppid,
            mm,
            regs,
            (fds, fs, proc),
            signal::new_actions(),
        )
    }

    /// A new thread in this task's process (clone with CLONE_THREAD).
    pub fn new_thread(&self, regs: Regs) -> Self {
        let tid = self.kernel.alloc_pid();
        let mut t = Self::with_group(
            self.kernel.clone(),
            tid,
            self.group.clone(),
            self.ppid,
            self.mm.clone(),
            regs,
            (self.fds.clone(), self.fs.clone(), self.proc.clone()),
            self.actions.clone(),
        );
        t.alarm = self.alarm.clone();
        t.signals.lock().mask = self.signals.lock().mask;
        t
    }

    #[allow(clippy::too_many_arguments)]
    fn with_group(
        kernel: Arc<Kernel<P>>,
        tid: i32,
        group: Arc<ThreadGroup>,
        ppid: i32,
        mm: Arc<Mutex<MemoryManager<P>>>,
        regs: Regs,
        (fds, fs, proc): (Arc<FdTable>, Arc<Mutex<FsContext>>, Arc<ProcView<P>>),
        actions: Actions,
    ) -> Self {
        let ctx = kernel.platform.new_context();
        let kick = ctx.interrupter();
        let signals = ThreadSignals::new(
            tid,
            group.tgid,
            Box::new(move || crate::platform::Interrupter::interrupt(&kick)),
        );
        kernel.register_thread(signals.clone());
        group.add(signals.clone());
        proc.threads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Task {
            kernel,
            tid,
            tgid: group.tgid,
            ppid,
            regs,
            mm,
            fds,
            fs,
            clear_child_tid: 0,
            ctx,
            group,
            thread_exit: None,
            vfork_done: None,
            signals,
            actions,
            alarm: Arc::default(),
            syscall: None,
            proc,
            comm: [0; 16],
        }
    }

    /// A new process running `mm` (the first one of a sandbox has parent 0).
    pub fn new(
        kernel: Arc<Kernel<P>>,
        mm: MemoryManager<P>,
        regs: Regs,
        fds: FdTable,
        fs: FsContext,
    ) -> Self {
        let mm = Arc::new(Mutex::new(mm));
        Self::new_process(kernel, 0, mm, regs, Arc::new(fds), Arc::new(Mutex::new(fs)))
    }

    /// The file-system context.
    pub fn fs(&self) -> std::sync::MutexGuard<'_, FsContext> {
        self.fs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Run on a host thread of its own until the process exits.
    pub fn spawn(mut self) -> std::io::Result<std::thread::JoinHandle<()>> {
        std::thread::Builder::new()
            .name(format!("task-{}", self.tid))
            .spawn(move || {
                self.run_to_end();
            })
    }

    /// Run until the thread group exits; a platform failure kills the process (SIGKILL).
    pub fn run_to_end(&mut self) -> ExitStatus {
        match self.run() {
            Ok(status) => status,
            Err(e) => {
                tracing::error!("task {}: {e}", self.tid);
                let killed = ExitStatus::Signaled(abi::signal::SIGKILL);
                self.group.exit(killed);
                self.leave(killed);
                killed
            }
        }
    }

    pub fn mm(&self) -> std::sync::MutexGuard<'_, MemoryManager<P>> {
        self.mm.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// End the thread group with `status` after the current syscall.
    pub fn exit_group(&mut self, status: ExitStatus) {
        self.group.exit(status);
    }

    /// End this thread only (`exit`).
    pub fn exit_thread(&mut self, code: i32) {
        self.thread_exit = Some(code);
    }

    /// This thread ends: clear and wake its child-tid word, and end the process with the
    /// last thread.
    fn leave(&mut self, status: ExitStatus) {
        if let Some(done) = self.vfork_done.take() {
            done.release();
        }
        if self.clear_child_tid != 0 {
            let addr = self.clear_child_tid;
            if self.copy_out(addr, &0u32.to_le_bytes()).is_ok()
                && let Ok(key) = crate::syscalls::futex_key(self, addr, false)
            {
                self.kernel.futexes.wake(key, 1, u32::MAX);
            }
        }
        self.kernel.unregister_thread(self.tid);
        self.proc
            .threads
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        if self.group.remove(self.tid) {
            let status = self.group.exiting().unwrap_or(status);
            self.finish(status);
        }
    }

    /// Record the process's exit for the parent's wait and tell the parent.
    fn finish(&mut self, status: ExitStatus) {
        self.kernel.unregister_group(self.tgid);
        self.alarm
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .generation += 1;
        self.kernel
            .processes
            .exited(self.tgid, status, self.kernel.init_pid());
        let (code, value) = match status {
            ExitStatus::Exited(c) => (abi::signal::CLD_EXITED, c),
            ExitStatus::Signaled(s) => (abi::signal::CLD_KILLED, s),
        };
        let info = abi::SigInfo::child(code, self.tgid, 0, value, 0, 0);
        self.kernel.signal_process(self.ppid, info);
    }

    /// Run until the thread group exits.
    pub fn run(&mut self) -> Result<ExitStatus, crate::platform::PlatformError> {
        let kernel = self.kernel.clone();
        kernel.platform.run_thread(|| self.run_loop())
    }

    fn run_loop(&mut self) -> Result<ExitStatus, crate::platform::PlatformError> {
        crate::wait::set_current(self.signals.clone());
        crate::procfs::set_current_pid(self.tgid);
        loop {
            if let Some(status) = self.group.exiting() {
                self.leave(status);
                return Ok(status);
            }
            if let Some(code) = self.thread_exit {
                let status = ExitStatus::Exited(code);
                self.leave(status);
                return Ok(self.group.exiting().unwrap_or(status));
            }
            self.deliver_signals();
            self.syscall = None;
            if self.group.exiting().is_some() {
                continue;
            }
            // The address space, not the memory manager, is held while application code
            // runs, so other threads of the process can fault and map meanwhile.
            let space = self.mm().space();
            let trap = self.ctx.switch(&mut self.regs, &space)?;
            match trap {
                Trap::Syscall => syscalls::dispatch(self),
                Trap::Fault { addr, access, .. } => {
                    self.kernel
                        .stats
                        .page_faults
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let fault = self.mm().fault(addr, access);
                    if let Err(segv) = fault {
                        tracing::debug!(addr = format_args!("{addr:#x}"), ?access, "SIGSEGV");
                        let code = match segv {
                            crate::mm::Segv::MapErr => abi::signal::SEGV_MAPERR,
                            crate::mm::Segv::AccErr => abi::signal::SEGV_ACCERR,
                        };
                        self.force_signal(abi::SigInfo::fault(SIGSEGV, code, addr));
                    }
                }
                Trap::Exception { vector, .. } => {
                    let (sig, code) = exception_signal(vector);
                    let addr = if sig == SIGSEGV { 0 } else { self.regs.ip() };
                    self.force_signal(abi::SigInfo::fault(sig, code, addr));
                }
                Trap::Interrupted => {}
            }
        }
    }

    /// Copy helpers with the errno convention of syscall handlers.
    pub fn copy_in(&self, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
        self.mm().copy_in(addr, buf)
    }

    pub fn copy_out(&self, addr: u64, data: &[u8]) -> Result<(), Errno> {
        self.mm().copy_out(addr, data)
    }
}

/// The signal and si_code Linux sends for an aarch64 exception class (ESR_EL1.EC).
#[cfg(target_arch = "aarch64")]
fn exception_signal(class: u8) -> (i32, i32) {
    const ILL_ILLOPC: i32 = 1;
    const TRAP_BRKPT: i32 = 1;
    const BUS_ADRALN: i32 = 1;
    const FPE_FLTINV: i32 = 7;
    const SI_KERNEL: i32 = 0x80;
    match class {
        // Unknown/undefined, illegal state, trapped system register, SVE (applications have
        // none).
        0x00 | 0x0e | 0x18 | 0x19 => (SIGILL, ILL_ILLOPC),
        0x3c => (SIGTRAP, TRAP_BRKPT),
        // PC or SP alignment, and an alignment data abort.
        0x22 | 0x26 | 0x24 => (SIGBUS, BUS_ADRALN),
        0x2c => (SIGFPE, FPE_FLTINV),
        _ => (SIGSEGV, SI_KERNEL),
    }
}

/// The signal and si_code Linux sends for an x86 exception vector.
#[cfg(target_arch = "x86_64")]
fn exception_signal(vector: u8) -> (i32, i32) {
    const FPE_INTDIV: i32 = 1;
    const FPE_FLTINV: i32 = 7;
    const TRAP_BRKPT: i32 = 1;
    const ILL_ILLOPN: i32 = 2;
    const BUS_ADRALN: i32 = 1;
    const SI_KERNEL: i32 = 0x80;
    match vector {
        0 => (SIGFPE, FPE_INTDIV),
        16 | 19 => (SIGFPE, FPE_FLTINV),
        1 | 3 => (SIGTRAP, TRAP_BRKPT),
        6 => (SIGILL, ILL_ILLOPN),
        17 => (SIGBUS, BUS_ADRALN),
        _ => (SIGSEGV, SI_KERNEL),
    }
}
