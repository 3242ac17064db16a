//! The aarch64 machine: one VM with its memory (memory file, page tables, entry area), the
//! kernel's upper-half table (TTBR1) and the vCPU pool.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use kvm_ioctls::{Cap, Kvm, VmFd};
use ring0::aarch64::layout::{CODE_VA, EXIT_PAGE_VA, frame_va};
use ring0::aarch64::vectors;
use ring0::pagetables::aarch64::{Aarch64Upper, ttbr_value};
use ring0::pagetables::pcid::{Asid8Allocator, MAX_ASID8};
use ring0::pagetables::{PageTables, Perms};

use super::address_space::Loadable;
use super::frame::Frame;
use super::pool::VcpuPool;
use super::vcpu::Vcpu;
use crate::backend::Backend;
use crate::config::MachineConfig;
use crate::error::{Error, Result};
use crate::kick::Shared;
use crate::memfile::MemoryFile;
use crate::physmap::PhysMap;
use crate::region::HostRegion;
use crate::stats::{ExitCounters, ExitStats};
use crate::tables::TablePool;

/// Guest-physical address of the exit page: below every memory slot, so any access to it
/// leaves the guest as MMIO.
pub(crate) const EXIT_GPA: u64 = 0xd000_0000;
const PAGE: u64 = 4096;

/// A KVM virtual machine ready to run application code at EL0.
pub struct Machine {
    // Field order is drop order: vCPUs and the VM go before the memory they map.
    pub(crate) pool: VcpuPool,
    vm: VmFd,
    _kvm: Kvm,
    pub(crate) exits: ExitCounters,
    pub(crate) memory: MemoryFile,
    pub(crate) tables: Mutex<TablePool>,
    _kernel: PageTables<Aarch64Upper>,
    /// The code page, then one frame page per vCPU.
    entry: HostRegion,
    pub(crate) asids: Mutex<Asid8Allocator>,
    /// Per vCPU, per ASID: the address space (id, generation) whose translations the vCPU's
    /// TLB may hold. Only the thread holding the vCPU uses its record.
    pub(crate) tlbs: Vec<Mutex<Vec<(u64, u64)>>>,
    /// Where host regions sit in guest-physical memory; grows as guest mode maps more of the
    /// sentry.
    physmap: Mutex<PhysMap>,
    /// (host address, size, guest-physical address) of the memory file, the page tables and
    /// the entry area.
    own: [(u64, u64, u64); 3],
    next_space: AtomicU64,
    /// Every context of the machine, to take them out of an address space that changed.
    pub(crate) contexts: Mutex<Vec<Weak<Shared>>>,
}

impl Machine {
    /// Open `/dev/kvm` and build a machine; a clear error (never a panic) when KVM is
    /// missing or unusable.
    pub fn new(config: MachineConfig) -> Result<Arc<Machine>> {
        let kvm = config.open_kvm()?;
        if config.backend == Some(Backend::Software) {
            return Err(Error::UnsupportedArch);
        }
        let vm = kvm.create_vm().map_err(Error::kvm("KVM_CREATE_VM"))?;
        let vcpus = config.vcpus.clamp(1, kvm.get_max_vcpus());

        let mut physmap = PhysMap::new();
        let mut memory = MemoryFile::new(config.memory_size)?;
        physmap.add(&vm, memory.region_mut())?;
        let mut tables = TablePool::new(config.table_memory, false)?;
        physmap.add(&vm, tables.region_mut())?;
        let mut entry = HostRegion::anonymous("the entry area", PAGE * (1 + vcpus as u64))?;
        entry.write(0, vectors::code_page())?;
        physmap.add(&vm, &mut entry)?;

        let own = [memory.region(), tables.region(), &entry]
            .map(|r| (r.host_ptr() as u64, r.size(), r.gpa()));
        let kernel = build_kernel_tables(&mut tables, &entry, vcpus)?;
        let ttbr1 = ttbr_value(kernel.root(), 0);
        let sve = kvm.check_extension(Cap::ArmSve);
        let vcpus = (0..vcpus)
            .map(|i| Vcpu::new(&vm, i, ttbr1, sve))
            .collect::<Result<Vec<_>>>()?;
        let tlbs = (0..vcpus.len())
            .map(|_| Mutex::new(vec![(0, 0); usize::from(MAX_ASID8) + 1]))
            .collect();
        let pool = VcpuPool::new(vcpus);
        tracing::debug!(vcpus = pool.len(), sve, "KVM machine ready (aarch64)");
        Ok(Arc::new(Machine {
            pool,
            vm,
            _kvm: kvm,
            exits: ExitCounters::default(),
            memory,
            tables: Mutex::new(tables),
            _kernel: kernel,
            entry,
            asids: Mutex::new(Asid8Allocator::new(MAX_ASID8)),
            tlbs,
            physmap: Mutex::new(physmap),
            own,
            next_space: AtomicU64::new(1),
            contexts: Mutex::new(Vec::new()),
        }))
    }

    /// The backend this machine runs on (always hardware on aarch64).
    pub fn backend(&self) -> Backend {
        Backend::Hardware
    }

    /// Number of vCPUs.
    pub fn vcpus(&self) -> usize {
        self.pool.len()
    }

    /// The memory file, the physical memory of every application on this machine.
    pub fn memory(&self) -> &MemoryFile {
        &self.memory
    }

    /// VM exits so far, by reason.
    pub fn exit_stats(&self) -> ExitStats {
        self.exits.snapshot()
    }

    /// Page-table pages in use (for leak checks).
    pub fn live_tables(&self) -> usize {
        self.tables.lock().unwrap_or_else(|e| e.into_inner()).live()
    }

    /// The frame of vCPU `index`, in host memory.
    ///
    /// Only the thread holding that vCPU may use the pointer, and only while the vCPU is
    /// not running (outside `KVM_RUN`).
    pub(crate) fn frame(&self, index: usize) -> *mut Frame {
        assert!(PAGE * (1 + index as u64) < self.entry.size());
        self.entry
            .host_ptr()
            .wrapping_add(PAGE as usize * (1 + index))
            .cast()
    }

    /// The host regions the machine owns, as (host address, size, guest-physical address):
    /// the memory file, the page tables and the entry area.
    pub(crate) fn own_regions(&self) -> [(u64, u64, u64); 3] {
        self.own
    }

    /// Gives `region` a guest-physical address and makes it a memory slot (the caller keeps
    /// it alive as long as the machine).
    pub(crate) fn add_region(&self, region: &mut HostRegion) -> Result<()> {
        self.physmap
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .add(&self.vm, region)
            .map(drop)
    }

    /// Makes host memory `[hva, hva + size)` reachable from the guest; its guest-physical
    /// address.
    pub(crate) fn add_host_slot(&self, hva: u64, size: u64) -> Result<u64> {
        self.physmap
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .add_host(&self.vm, hva, size)
    }

    /// Whether vCPU `index` must flush `space`'s ASID before running it; records that it
    /// will hold the space's current translations.
    pub(crate) fn tlb_stale(&self, index: usize, space: &Loadable) -> bool {
        let mut records = self.tlbs[index].lock().unwrap_or_else(|e| e.into_inner());
        let record = &mut records[usize::from(space.asid)];
        let stale = *record != (space.id, space.generation);
        *record = (space.id, space.generation);
        stale
    }

    /// After a failure on vCPU `index`: assume its TLB holds anything.
    pub(crate) fn forget_tlb(&self, index: usize) {
        let mut records = self.tlbs[index].lock().unwrap_or_else(|e| e.into_inner());
        records.fill((0, 0));
    }

    pub(crate) fn next_space_id(&self) -> u64 {
        self.next_space.fetch_add(1, Ordering::Relaxed)
    }

    /// Takes every other thread that runs address space `space` out of it, and waits until
    /// each has left (see `kick::shoot_down`).
    pub(crate) fn shoot_down(&self, space: u64) {
        crate::kick::shoot_down(&self.contexts, space);
    }
}

/// The kernel's table (TTBR1): the code page, each vCPU's frame and the exit page.
fn build_kernel_tables(
    tables: &mut TablePool,
    entry: &HostRegion,
    vcpus: usize,
) -> Result<PageTables<Aarch64Upper>> {
    let pt_err = |e: ring0::pagetables::MapError| Error::PageTables(e.to_string());
    let mut kernel = PageTables::<Aarch64Upper>::new(tables).map_err(pt_err)?;
    let base = entry.gpa();
    let global = Perms::READ | Perms::GLOBAL;
    kernel
        .map(tables, CODE_VA, base, PAGE, global | Perms::EXECUTE)
        .map_err(pt_err)?;
    for i in 0..vcpus {
        let offset = PAGE * (1 + i as u64);
        kernel
            .map(
                tables,
                frame_va(i),
                base + offset,
                PAGE,
                global | Perms::WRITE,
            )
            .map_err(pt_err)?;
    }
    kernel
        .map(tables, EXIT_PAGE_VA, EXIT_GPA, PAGE, global | Perms::WRITE)
        .map_err(pt_err)?;
    Ok(kernel)
}
