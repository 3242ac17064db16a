//! The ptrace platform: application code runs in stub processes stopped with PTRACE_SYSEMU.
//!
//! Nothing here needs virtualization; it is the fallback where `/dev/kvm` is missing, and slow
//! (every trap is a few host context switches: about 11.5 µs a syscall round trip on our
//! development VMs). x86_64 only for now.
//!
//! # Processes
//!
//! Every [`AddressSpace`] is one *stub process*. It is forked from the sentry by the platform's
//! *stub thread* (see below) and, before it ever runs application code, drops everything of the
//! sentry: its own process group, no core dumps, signal dispositions reset (`SIGCHLD`
//! ignored), glibc's inherited rseq area unregistered (the kernel would write to it after it is
//! unmapped, and answer with `SIGSEGV`), every descriptor but the memory file (moved to
//! descriptor 0) closed, a seccomp filter installed; then the stub code, copied to its fixed
//! page ([`STUB_ADDR`], the top page of the user range), unmaps everything below itself and
//! resets the FPU/vector registers. What is left is that one read-only code page (see
//! `stub_asm.rs`) and the memory file. Mappings are injected by making a stopped process of
//! the stub execute `mmap` of the memory file (`MAP_SHARED | MAP_FIXED`), `mprotect` or
//! `munmap` on its `syscall; int3` sequence.
//!
//! Application threads run in *tracees*: further processes that share the stub's memory
//! (`clone(CLONE_VM)`, not threads), one per [`Context`] per address space it has switched
//! to. Each is resumed with `PTRACE_SYSEMU`, so every system call it makes stops before the
//! host sees it and is skipped; the seccomp filter additionally answers `ENOSYS` to any system
//! call from outside the stub page (the vsyscall page's emulated calls run no ptrace hooks)
//! and kills the stub for any call from the stub page that it never makes.
//!
//! Tracees being processes rather than threads is deliberate: one can be killed without the
//! others (`SIGKILL` on a thread kills its whole group), so a host thread that exits takes
//! exactly its own tracees with it (`PTRACE_O_EXITKILL`), and nothing of a dropped context
//! lingers. A tracee's parent is the stub, which ignores `SIGCHLD`, so dead tracees are reaped
//! by the kernel once their tracer has seen the exit.
//!
//! # Threading rules
//!
//! ptrace answers only the host *thread* that attached, so:
//!
//! - The platform owns one **stub thread** (named `rf-ptrace-stubs`). It forks every stub
//!   process, traces each stub's first process (the *leader*), makes the leader clone new
//!   tracees, injects mappings when the calling thread has no tracee of its own in that space,
//!   and kills and reaps stubs on release. Other threads talk to it over a channel. It ends when
//!   the platform and every address space are dropped; stubs die with it (`PR_SET_PDEATHSIG`,
//!   `PTRACE_O_EXITKILL`).
//! - A [`Context`] is **bound to the host thread that first calls `switch`** on it; `switch`
//!   from another thread fails with [`Error::WrongThread`]. That thread seizes a fresh tracee
//!   (cloned by the leader, parked in `pause`) the first time the context enters each
//!   address space, and traces it for the context's lifetime. The context's FPU/vector state
//!   follows it from one address space's tracee to another (`PTRACE_GETREGSET` of the x86
//!   xstate).
//! - [`AddressSpace::map`], `unmap` and `protect` may be called from any thread. When the
//!   calling thread traces a tracee of that space (it has switched a context into it), the
//!   call is injected through that tracee — no thread hop, the common case for a fault taken
//!   and resolved on a task's own thread; otherwise it goes to the stub thread.
//! - [`Interrupter::interrupt`] may be called from any thread: it sets a pending flag (the
//!   next `switch` returns [`Trap::Interrupted`] at once) and, if the context is running,
//!   sends the tracee `SIGURG` through its pidfd; that stop is recognised (sent by this
//!   process) and the signal suppressed. A signal to the tracing thread itself (`waitpid`
//!   returning `EINTR`) is turned into an interrupt the same way.
//! - Dropping a context kills and reaps its tracees from whichever thread drops it; a host
//!   thread that exits without dropping its contexts loses their tracees to
//!   `PTRACE_O_EXITKILL`, and the kernel reaps them. Releasing (or dropping) an address space
//!   kills and reaps its tracees, then the stub thread kills and reaps the leader; a tracee
//!   still parked (cloned, not yet seized) dies with the leader (`PR_SET_PDEATHSIG`).
//!   Processes are signalled and collected through pidfds, so a reused pid is never hit.
//! - Nothing else in the sentry may `wait` for "any child" (`waitpid(-1, …)`): it would steal
//!   ptrace stops. A `SIGCHLD` handler in the sentry would be run for every tracee stop.
//!
//! # Traps
//!
//! See `trap.rs`: syscall-stops are [`Trap::Syscall`]; kernel-raised `SIGSEGV`/`SIGBUS` page
//! faults are [`Trap::Fault`] (x86 signal information carries no error code, so the access
//! kind comes from decoding the faulting instruction, see `decode.rs`); `SIGILL`, `SIGFPE`,
//! `SIGTRAP` and general-protection `SIGSEGV`s are [`Trap::Exception`] with the x86 vector.

mod error;

pub use error::Error;

#[cfg(target_arch = "x86_64")]
mod address_space;
#[cfg(target_arch = "x86_64")]
mod context;
#[cfg(target_arch = "x86_64")]
mod decode;
#[cfg(target_arch = "x86_64")]
mod master;
#[cfg(target_arch = "x86_64")]
mod regs;
#[cfg(target_arch = "x86_64")]
mod stats;
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod stub;
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod stub_asm;
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod sys;
#[cfg(target_arch = "x86_64")]
mod tracee;
#[cfg(target_arch = "x86_64")]
mod trap;

#[cfg(target_arch = "x86_64")]
pub use address_space::AddressSpace;
#[cfg(target_arch = "x86_64")]
pub use context::{Context, Interrupter};
#[cfg(target_arch = "x86_64")]
pub use platform::Ptrace;

/// Where every stub keeps its code: the top page of the x86_64 user address range.
pub const STUB_ADDR: u64 = 0x7fff_ffff_e000;
/// The size of the stub's code page.
pub const STUB_SIZE: u64 = 0x1000;
/// The application address range, `[min, max)`: everything below the stub page.
pub const USER_RANGE: (u64, u64) = (0x1_0000, STUB_ADDR);

#[cfg(target_arch = "x86_64")]
mod platform {
    use std::sync::Arc;

    use super::master::Master;
    use super::stats::Stats;
    use super::{AddressSpace, Context, USER_RANGE};
    use crate::platform::{MemoryFile, Result};

    /// The ptrace platform: one stub process per address space, one tracee per context and
    /// address space, all driven with `PTRACE_SYSEMU`.
    pub struct Ptrace {
        memory: MemoryFile,
        master: Arc<Master>,
        stats: Arc<Stats>,
    }

    impl Ptrace {
        /// A platform whose memory file holds `memory_size` bytes. Creates (and releases)
        /// one stub process, so a host where ptrace is not permitted fails here, with
        /// [`super::Error::NotPermitted`].
        pub fn new(memory_size: u64) -> Result<Ptrace> {
            let memory = MemoryFile::new(memory_size)?;
            let memfd = memory
                .file()
                .try_clone()
                .map_err(|source| super::Error::Host {
                    op: "dup of the memory file",
                    source,
                })?;
            let master = Master::start(memfd.into())?;
            let stats = Arc::<Stats>::default();
            AddressSpace::new(&master, memory.size(), &stats)?.release();
            Ok(Ptrace {
                memory,
                master,
                stats,
            })
        }
    }

    impl crate::platform::Platform for Ptrace {
        type AddressSpace = AddressSpace;
        type Context = Context;

        fn name(&self) -> &'static str {
            "ptrace"
        }

        fn description(&self) -> String {
            "ptrace (PTRACE_SYSEMU; one stub process per address space)".to_string()
        }

        fn user_range(&self) -> (u64, u64) {
            USER_RANGE
        }

        fn memory(&self) -> &MemoryFile {
            &self.memory
        }

        fn new_address_space(&self) -> Result<AddressSpace> {
            Ok(AddressSpace::new(
                &self.master,
                self.memory.size(),
                &self.stats,
            )?)
        }

        fn counters(&self) -> String {
            format!("platform=ptrace {}", self.stats)
        }

        fn new_context(&self) -> Context {
            Context::with_stats(self.stats.clone())
        }
    }

    impl crate::platform::AddressSpace for AddressSpace {
        fn map(
            &self,
            addr: u64,
            len: u64,
            offset: u64,
            perms: crate::platform::Perms,
        ) -> Result<()> {
            Ok(AddressSpace::map(self, addr, len, offset, perms)?)
        }

        fn unmap(&self, addr: u64, len: u64) -> Result<()> {
            Ok(AddressSpace::unmap(self, addr, len)?)
        }

        fn release(&self) {
            AddressSpace::release(self)
        }
    }

    impl crate::platform::Context for Context {
        type AddressSpace = AddressSpace;
        type Interrupter = super::Interrupter;

        fn switch(
            &mut self,
            regs: &mut crate::platform::Regs,
            space: &AddressSpace,
        ) -> Result<crate::platform::Trap> {
            Ok(Context::switch(self, regs, space)?)
        }

        fn interrupter(&self) -> super::Interrupter {
            Context::interrupter(self)
        }
    }

    impl crate::platform::Interrupter for super::Interrupter {
        fn interrupt(&self) {
            super::Interrupter::interrupt(self)
        }
    }
}
