//! The KVM platform behind the sentry's contract.

use std::sync::Arc;

use platform_kvm::{Backend, GuestMode, Machine, MachineConfig};

use super::{MemoryFile, Perms, Regs, Result, Trap};

/// The KVM platform: one machine per sandbox.
pub struct Kvm {
    machine: Arc<Machine>,
    /// Guest mode, when on (hardware backend only): task loops run at guest ring 0 (EL1)
    /// and application traps come back without VM exits.
    guest: Option<Arc<GuestMode>>,
}

impl Kvm {
    pub fn new(config: MachineConfig) -> Result<Kvm> {
        Ok(Kvm {
            machine: Machine::new(config)?,
            guest: None,
        })
    }

    /// Turns guest mode on; `false` (and nothing changes) where the backend cannot run the
    /// sentry at ring 0.
    pub fn enable_guest_mode(&mut self) -> Result<bool> {
        if self.machine.backend() != Backend::Hardware {
            return Ok(false);
        }
        self.guest = Some(GuestMode::new(&self.machine)?);
        Ok(true)
    }

    /// How address spaces keep their TLB entries apart, if they do.
    fn tlb_tags(&self) -> &'static str {
        #[cfg(target_arch = "x86_64")]
        return if self.machine.has_pcid() {
            ", PCID"
        } else {
            ""
        };
        #[cfg(target_arch = "aarch64")]
        ", ASIDs"
    }

    fn in_guest_mode(&self) -> bool {
        self.guest.is_some()
    }

    pub fn machine(&self) -> &Arc<Machine> {
        &self.machine
    }
}

impl super::Platform for Kvm {
    type AddressSpace = platform_kvm::AddressSpace;
    type Context = KvmContext;

    fn name(&self) -> &'static str {
        "kvm"
    }

    fn description(&self) -> String {
        format!(
            "kvm ({} backend, {} vCPUs{})",
            self.machine.backend(),
            self.machine.vcpus(),
            self.tlb_tags()
        )
    }

    fn user_range(&self) -> (u64, u64) {
        platform_kvm::AddressSpace::USER_RANGE
    }

    fn memory(&self) -> &MemoryFile {
        self.machine.memory()
    }

    fn counters(&self) -> String {
        format!(
            "platform=kvm backend={} mode={} {}",
            self.machine.backend(),
            if self.in_guest_mode() {
                "guest"
            } else {
                "exit-per-trap"
            },
            self.machine.exit_stats()
        )
    }

    fn new_address_space(&self) -> Result<Self::AddressSpace> {
        Ok(platform_kvm::AddressSpace::new(&self.machine)?)
    }

    fn new_context(&self) -> Self::Context {
        KvmContext {
            ctx: platform_kvm::Context::new(&self.machine),
            guest: self.guest.clone(),
        }
    }

    fn run_thread<R>(&self, f: impl FnOnce() -> R) -> R {
        let Some(guest) = &self.guest else {
            return f();
        };
        let mut f = Some(f);
        let mut out = None;
        let ran = guest.run(|| {
            if let Some(f) = f.take() {
                out = Some(f());
            }
        });
        if let Err(e) = ran {
            tracing::warn!("guest mode: {e}");
        }
        match (out, f) {
            (Some(r), _) => r,
            // Guest mode could not start: the loop runs on the host.
            (None, Some(f)) => f(),
            (None, None) => unreachable!("the task loop ran but returned nothing"),
        }
    }
}

/// A KVM context, run from guest mode when the task loop is in it.
pub struct KvmContext {
    ctx: platform_kvm::Context,
    guest: Option<Arc<GuestMode>>,
}

impl super::AddressSpace for platform_kvm::AddressSpace {
    fn map(&self, addr: u64, len: u64, offset: u64, perms: Perms) -> Result<()> {
        Ok(platform_kvm::AddressSpace::map(
            self, addr, len, offset, perms,
        )?)
    }

    fn unmap(&self, addr: u64, len: u64) -> Result<()> {
        Ok(platform_kvm::AddressSpace::unmap(self, addr, len)?)
    }

    fn release(&self) {
        platform_kvm::AddressSpace::release(self)
    }
}

impl super::Context for KvmContext {
    type AddressSpace = platform_kvm::AddressSpace;
    type Interrupter = platform_kvm::Interrupter;

    fn switch(&mut self, regs: &mut Regs, space: &Self::AddressSpace) -> Result<Trap> {
        match &self.guest {
            Some(guest) if GuestMode::in_run() => {
                Ok(self.ctx.switch_in_guest(guest, regs, space)?)
            }
            _ => Ok(self.ctx.switch(regs, space)?),
        }
    }

    fn interrupter(&self) -> Self::Interrupter {
        self.ctx.interrupter()
    }
}

impl super::Interrupter for platform_kvm::Interrupter {
    fn interrupt(&self) {
        platform_kvm::Interrupter::interrupt(self)
    }
}
