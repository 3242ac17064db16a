//! The platform contract: the seam between the sentry and the mechanisms that run
//! application code (DESIGN.md, "The platform contract").

pub mod kvm;
pub mod ptrace;

pub use platform_kvm::{Access, MemoryFile, Perms, Trap};

/// The application's registers, in the layout of the host architecture's ptrace regset.
#[cfg(target_arch = "x86_64")]
pub type Regs = abi::x86_64::UserRegs;
/// On aarch64 with the thread pointer (TPIDR_EL0), which the regset leaves out.
#[cfg(target_arch = "aarch64")]
pub type Regs = abi::aarch64::TaskRegs;

/// Errors a platform reports to the sentry.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error(transparent)]
    Kvm(#[from] platform_kvm::Error),
    #[error(transparent)]
    Ptrace(#[from] ptrace::Error),
}

pub type Result<T> = std::result::Result<T, PlatformError>;

/// A way of running untrusted application code.
pub trait Platform: Send + Sync + 'static {
    type AddressSpace: AddressSpace;
    type Context: Context<AddressSpace = Self::AddressSpace>;

    /// A short name (`kvm`), and details worth telling the user (the backend).
    fn name(&self) -> &'static str;
    fn description(&self) -> String;

    /// The application address range, `[min, max)`.
    fn user_range(&self) -> (u64, u64);

    /// The memory file: every page an address space maps comes from it, and the sentry
    /// reads and writes application memory through it.
    fn memory(&self) -> &MemoryFile;

    fn new_address_space(&self) -> Result<Self::AddressSpace>;

    /// The platform's own counters for `--stats`, as `key=value` pairs (`vm_exits=` at least).
    fn counters(&self) -> String;
    fn new_context(&self) -> Self::Context;

    /// Runs `f`, an application thread's task loop, on the calling thread: the KVM platform
    /// in guest mode runs it at guest ring 0.
    fn run_thread<R>(&self, f: impl FnOnce() -> R) -> R {
        f()
    }
}

/// An application address space, whose pages come from the memory file.
pub trait AddressSpace: Send + Sync {
    /// Map `len` bytes of the memory file from `offset` at `addr`, replacing what was there.
    fn map(&self, addr: u64, len: u64, offset: u64, perms: Perms) -> Result<()>;
    fn unmap(&self, addr: u64, len: u64) -> Result<()>;
    /// Drop every mapping; the space cannot be used afterwards.
    fn release(&self);
}

/// One application thread's execution context.
pub trait Context: Send {
    type AddressSpace;
    type Interrupter: Interrupter;

    /// Run the application until it traps.
    fn switch(&mut self, regs: &mut Regs, space: &Self::AddressSpace) -> Result<Trap>;
    /// A handle to interrupt this context from another thread.
    fn interrupter(&self) -> Self::Interrupter;
}

/// Kicks a context out of application code (`Trap::Interrupted`).
pub trait Interrupter: Send + Sync + Clone {
    fn interrupt(&self);
}
