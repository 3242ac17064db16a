//! The machine: one VM with its memory (memory file, page tables, entry area), the kernel's
//! upper-half page table and the vCPU pool.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};

use kvm_bindings::{KVM_MAX_CPUID_ENTRIES, kvm_userspace_memory_region};
use kvm_ioctls::{Cap, Kvm, VmFd};
use ring0::pagetables::pcid::{MAX_PCID, PcidAllocator};
use ring0::pagetables::x86_64::X86_64;
use ring0::pagetables::{PageTables, Perms};
use ring0::x86_64::layout::EXIT_PAGE_VA;

use super::entry_area::EntryArea;
use super::pool::VcpuPool;
use super::vcpu::{Features, Vcpu};
use crate::backend::Backend;
use crate::config::MachineConfig;
use crate::error::{Error, Result};
use crate::kick::Shared;
use crate::memfile::MemoryFile;
use crate::physmap::PhysMap;
use crate::stats::{ExitCounters, ExitStats};
use crate::tables::TablePool;

/// Guest-physical address of the exit page: below every memory slot, so any access to it
/// leaves the guest as MMIO.
pub(crate) const EXIT_GPA: u64 = 0xd000_0000;
/// Addresses KVM needs on Intel for real-mode emulation; never used by our guest.
const TSS_GPA: usize = 0xfffb_d000;
const IDENTITY_MAP_GPA: u64 = 0xfffb_c000;

/// A KVM virtual machine ready to run application code.
pub struct Machine {
    // Field order is drop order: vCPUs and the VM go before the memory they map.
    pub(crate) pool: VcpuPool,
    vm: VmFd,
    _kvm: Kvm,
    backend: Backend,
    pub(crate) features: Features,
    /// Every vCPU reads the host's time-stamp counter: the host's vDSO gives the right time
    /// in guest mode.
    pub(crate) tsc_is_host: bool,
    pub(crate) exits: ExitCounters,
    pub(crate) memory: MemoryFile,
    pub(crate) tables: Mutex<TablePool>,
    pub(crate) kernel: PageTables<X86_64>,
    pub(crate) entry: EntryArea,
    pub(crate) pcids: Mutex<PcidAllocator>,
    next_space: AtomicU64,
    shadow_refreshes: AtomicU64,
    /// The page-table slot, recreated to drop KVM's shadow pages (software backend).
    tables_slot: kvm_userspace_memory_region,
    /// Held (shared) around every `KVM_RUN`, and exclusively while the shadow is dropped.
    run_lock: RwLock<()>,
    /// Held by a shadow refresh; runs that see `refresh_pending` wait for it here.
    refresh_gate: Mutex<()>,
    refresh_pending: AtomicBool,
    /// Every context of the machine, to kick them out of the guest.
    pub(crate) contexts: Mutex<Vec<Weak<Shared>>>,
    /// Where host regions sit in guest-physical memory; grows as guest mode maps more of
    /// the sentry.
    pub(crate) physmap: Mutex<PhysMap>,
}

impl Machine {
    /// Open `/dev/kvm` and build a machine; a clear error (never a panic) when KVM is
    /// missing or unusable.
    pub fn new(config: MachineConfig) -> Result<Arc<Machine>> {
        let kvm = config.open_kvm()?;
        let backend = config.backend.unwrap_or_else(Backend::detect);
        let vm = kvm.create_vm().map_err(Error::kvm("KVM_CREATE_VM"))?;
        // Only Intel needs these, and only for real mode; failing is harmless elsewhere.
        if let Err(e) = vm.set_tss_address(TSS_GPA) {
            tracing::debug!("KVM_SET_TSS_ADDR: {e}");
        }
        if let Err(e) = vm.set_identity_map_address(IDENTITY_MAP_GPA) {
            tracing::debug!("KVM_SET_IDENTITY_MAP_ADDR: {e}");
        }

        let vcpus = config.vcpus.clamp(1, kvm.get_max_vcpus());
        let mut physmap = PhysMap::new();
        let mut memory = MemoryFile::new(config.memory_size)?;
        physmap.add(&vm, memory.region_mut())?;
        let mut tables = TablePool::new(config.table_memory, backend == Backend::Software)?;
        let tables_slot = physmap.add(&vm, tables.region_mut())?;
        let mut entry = EntryArea::new(vcpus)?;
        physmap.add(&vm, entry.region_mut())?;

        let kernel = build_kernel_tables(&mut tables, &entry)?;
        let cpuid = kvm
            .get_supported_cpuid(KVM_MAX_CPUID_ENTRIES)
            .map_err(Error::kvm("KVM_GET_SUPPORTED_CPUID"))?;
        let features = Features::from_cpuid(&cpuid);
        let kernel_cr3 = kernel.root();
        let sync_regs = kvm.check_extension(Cap::SyncRegs);
        let mut tsc_is_host = backend == Backend::Hardware;
        let vcpus = (0..vcpus)
            .map(|i| {
                let mut vcpu = Vcpu::new(&vm, i, &cpuid, features, backend, kernel_cr3)?;
                if sync_regs {
                    vcpu.use_sync_regs();
                }
                tsc_is_host = tsc_is_host && vcpu.zero_tsc_offset();
                Ok(vcpu)
            })
            .collect::<Result<Vec<_>>>()?;
        let pool = VcpuPool::new(vcpus, features.xcr0 != 0)?;
        tracing::debug!(%backend, ?features, tsc_is_host, vcpus = pool.len(), "KVM machine ready");

        Ok(Arc::new(Machine {
            pool,
            vm,
            _kvm: kvm,
            backend,
            features,
            tsc_is_host,
            exits: ExitCounters::default(),
            memory,
            tables: Mutex::new(tables),
            kernel,
            entry,
            pcids: Mutex::new(PcidAllocator::new(MAX_PCID)),
            next_space: AtomicU64::new(1),
            shadow_refreshes: AtomicU64::new(0),
            tables_slot,
            run_lock: RwLock::new(()),
            refresh_gate: Mutex::new(()),
            refresh_pending: AtomicBool::new(false),
            contexts: Mutex::new(Vec::new()),
            physmap: Mutex::new(physmap),
        }))
    }

    /// The backend this machine runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Number of vCPUs.
    pub fn vcpus(&self) -> usize {
        self.pool.len()
    }

    /// Whether the vCPUs use PCIDs to keep TLB entries across address-space switches.
    pub fn has_pcid(&self) -> bool {
        self.features.pcid
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

    /// Make page-table edits that removed or changed translations visible to every vCPU.
    ///
    /// The software backend shadows the guest's page tables and only notices edits the
    /// guest makes itself, so after the host edits them its shadow pages are dropped: every
    /// vCPU is kicked out of the guest and the page-table slot is recreated. On the hardware
    /// backend the vCPUs walk the tables in memory, and the next CR3 load of the space
    /// flushes (the space's generation changed), so there is nothing to do here.
    pub(crate) fn page_tables_changed(&self) -> Result<()> {
        if self.backend != Backend::Software {
            return Ok(());
        }
        // Hold new runs at the gate, then kick until the ones in the guest have left.
        let _gate = self.refresh_gate.lock().unwrap_or_else(|e| e.into_inner());
        self.refresh_pending.store(true, Ordering::SeqCst);
        let exclusive = loop {
            if let Ok(guard) = self.run_lock.try_write() {
                break guard;
            }
            self.kick_all();
            // Kicked threads need a moment to leave the guest; spinning only steals it.
            std::thread::sleep(std::time::Duration::from_micros(50));
        };
        self.shadow_refreshes.fetch_add(1, Ordering::Relaxed);
        let result = PhysMap::recreate(&self.vm, self.tables_slot);
        if result.is_ok() {
            self.tables
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .recycle();
        }
        drop(exclusive);
        self.refresh_pending.store(false, Ordering::SeqCst);
        result
    }

    /// Enter the guest: shared with other runs, excluded by a shadow refresh.
    pub(crate) fn enter(&self) -> std::sync::RwLockReadGuard<'_, ()> {
        if self.refresh_pending.load(Ordering::SeqCst) {
            drop(self.refresh_gate.lock().unwrap_or_else(|e| e.into_inner()));
        }
        self.run_lock.read().unwrap_or_else(|e| e.into_inner())
    }

    /// After tables were freed: on the software backend, refresh the shadow once enough of
    /// them wait in quarantine, so they can be reused.
    pub(crate) fn tables_freed(&self) -> Result<()> {
        const QUARANTINE_LIMIT: usize = 1024;
        let waiting = self
            .tables
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .quarantined();
        if waiting >= QUARANTINE_LIMIT {
            self.page_tables_changed()?;
        }
        Ok(())
    }

    /// Takes every other thread that runs address space `space` out of it, and waits until
    /// each has left (see `kick::shoot_down`).
    pub(crate) fn shoot_down(&self, space: u64) {
        crate::kick::shoot_down(&self.contexts, space);
    }

    /// Kick every context that is in the guest right now.
    fn kick_all(&self) {
        let mut contexts = self.contexts.lock().unwrap_or_else(|e| e.into_inner());
        contexts.retain(|c| match c.upgrade() {
            Some(shared) => {
                shared.kick();
                true
            }
            None => false,
        });
    }

    /// How often the software backend's shadow page tables were dropped.
    pub fn shadow_refreshes(&self) -> u64 {
        self.shadow_refreshes.load(Ordering::Relaxed)
    }

    /// Makes host memory `[hva, hva + size)` reachable from the guest; its guest-physical
    /// address.
    pub(crate) fn add_host_slot(&self, hva: u64, size: u64) -> Result<u64> {
        self.physmap
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .add_host(&self.vm, hva, size)
    }

    pub(crate) fn next_space_id(&self) -> u64 {
        self.next_space.fetch_add(1, Ordering::Relaxed)
    }
}

/// The kernel's page table: only the upper half, which every application table shares.
fn build_kernel_tables(tables: &mut TablePool, entry: &EntryArea) -> Result<PageTables<X86_64>> {
    let pt_err = |e: ring0::pagetables::MapError| Error::PageTables(e.to_string());
    let mut kernel = PageTables::<X86_64>::new(tables).map_err(pt_err)?;
    let base = entry.region().gpa();
    for page in entry.pages() {
        let mut perms = Perms::READ;
        perms.set(Perms::WRITE, page.write);
        perms.set(Perms::EXECUTE, page.execute);
        perms.set(Perms::USER, page.user);
        kernel
            .map(tables, page.va, base + page.offset, 4096, perms)
            .map_err(pt_err)?;
    }
    kernel
        .map(
            tables,
            EXIT_PAGE_VA,
            EXIT_GPA,
            4096,
            Perms::READ | Perms::WRITE | Perms::USER,
        )
        .map_err(pt_err)?;
    Ok(kernel)
}
