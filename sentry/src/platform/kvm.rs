//! The KVM platform behind the sentry's contract.

use std::sync::Arc;

use platform_kvm::{Machine, MachineConfig};

use super::{MemoryFile, Perms, Regs, Result, Trap};

/// The KVM platform: one machine per sandbox.
pub struct Kvm {
    machine: Arc<Machine>,
}

impl Kvm {
    pub fn new(config: MachineConfig) -> Result<Kvm> {
        Ok(Kvm {
            machine: Machine::new(config)?,
        })
    }

    pub fn machine(&self) -> &Arc<Machine> {
        &self.machine
    }
}

impl super::Platform for Kvm {
    type AddressSpace = platform_kvm::AddressSpace;
    type Context = platform_kvm::Context;

    fn name(&self) -> &'static str {
        "kvm"
    }

    fn description(&self) -> String {
        format!(
            "kvm ({} backend, {} vCPUs{})",
            self.machine.backend(),
            self.machine.vcpus(),
            if self.machine.has_pcid() {
                ", PCID"
            } else {
                ""
            }
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
            "platform=kvm backend={} {}",
            self.machine.backend(),
            self.machine.exit_stats()
        )
    }

    fn new_address_space(&self) -> Result<Self::AddressSpace> {
        Ok(platform_kvm::AddressSpace::new(&self.machine)?)
    }

    fn new_context(&self) -> Self::Context {
        platform_kvm::Context::new(&self.machine)
    }
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

impl super::Context for platform_kvm::Context {
    type AddressSpace = platform_kvm::AddressSpace;
    type Interrupter = platform_kvm::Interrupter;

    fn switch(&mut self, regs: &mut Regs, space: &Self::AddressSpace) -> Result<Trap> {
        Ok(platform_kvm::Context::switch(self, regs, space)?)
    }

    fn interrupter(&self) -> Self::Interrupter {
        platform_kvm::Context::interrupter(self)
    }
}

impl super::Interrupter for platform_kvm::Interrupter {
    fn interrupt(&self) {
        platform_kvm::Interrupter::interrupt(self)
    }
}
