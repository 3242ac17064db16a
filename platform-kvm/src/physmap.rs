//! The physical map: where each host region appears in guest-physical space.
//!
//! Regions are packed one after another from `BASE` rather than placed at
//! guest-physical = host-virtual, because CPUs (and emulated ones in particular) may offer
//! fewer physical address bits than the host's virtual addresses need.

use kvm_bindings::kvm_userspace_memory_region;
use kvm_ioctls::VmFd;

use crate::error::{Error, Result};
use crate::region::HostRegion;

/// First guest-physical address handed out; below it sit the fixed holes (TSS, identity map,
/// the exit page).
pub const BASE: u64 = 1 << 32;
/// Regions start on 2 MiB boundaries so the host can back them with huge pages.
const ALIGN: u64 = 2 << 20;

#[derive(Default)]
pub(crate) struct PhysMap {
    next_gpa: u64,
    next_slot: u32,
}

impl PhysMap {
    pub(crate) fn new() -> PhysMap {
        PhysMap {
            next_gpa: BASE,
            next_slot: 0,
        }
    }

    /// Give `region` a guest-physical address and make it a memory slot of `vm`.
    ///
    /// The caller keeps `region` alive for as long as `vm` exists (the machine drops its VM
    /// before its regions).
    pub(crate) fn add(
        &mut self,
        vm: &VmFd,
        region: &mut HostRegion,
    ) -> Result<kvm_userspace_memory_region> {
        let gpa = self.next_gpa;
        let slot = kvm_userspace_memory_region {
            slot: self.next_slot,
            flags: 0,
            guest_phys_addr: gpa,
            memory_size: region.size(),
            userspace_addr: region.host_ptr() as u64,
        };
        // SAFETY: the slot covers exactly the host mapping owned by `region`, which the
        // machine keeps mapped until after the VM is closed.
        unsafe { vm.set_user_memory_region(slot) }
            .map_err(Error::kvm("KVM_SET_USER_MEMORY_REGION"))?;
        region.set_gpa(gpa);
        self.next_slot += 1;
        self.next_gpa = (gpa + region.size()).next_multiple_of(ALIGN);
        Ok(slot)
    }

    /// Make `size` bytes of host memory at `hva`, which the caller does not own (the
    /// sentry's own text, heap and stacks, for guest mode), a memory slot of `vm`; its
    /// guest-physical address.
    pub(crate) fn add_host(&mut self, vm: &VmFd, hva: u64, size: u64) -> Result<u64> {
        let gpa = self.next_gpa;
        let slot = kvm_userspace_memory_region {
            slot: self.next_slot,
            flags: 0,
            guest_phys_addr: gpa,
            memory_size: size,
            userspace_addr: hva,
        };
        // SAFETY: the slot only lets the guest reach host memory this process has mapped,
        // through the sentry's own kernel page table; if the host unmaps it later, a guest
        // access makes KVM_RUN fail (EFAULT) rather than reach anything else.
        unsafe { vm.set_user_memory_region(slot) }
            .map_err(Error::kvm("KVM_SET_USER_MEMORY_REGION"))?;
        self.next_slot += 1;
        self.next_gpa = (gpa + size).next_multiple_of(ALIGN);
        Ok(gpa)
    }

    /// Delete memory slot `slot` and create it again, which makes KVM drop every shadow
    /// page built from it. No vCPU may be running (its page walks would find no memory).
    // Used by the x86_64 software backend and guest mode.
    #[cfg_attr(target_arch = "aarch64", allow(dead_code))]
    pub(crate) fn recreate(vm: &VmFd, slot: kvm_userspace_memory_region) -> Result<()> {
        let deleted = kvm_userspace_memory_region {
            memory_size: 0,
            ..slot
        };
        // SAFETY: deleting a slot unmaps nothing on the host; re-adding it describes the
        // same host mapping as before, still owned by the machine.
        unsafe {
            vm.set_user_memory_region(deleted)
                .and_then(|()| vm.set_user_memory_region(slot))
        }
        .map_err(Error::kvm("KVM_SET_USER_MEMORY_REGION"))
    }
}
