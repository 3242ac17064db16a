//! vCPUs: creation, the guest-kernel state they start in, and what the platform remembers
//! about each one between runs.

use std::os::fd::AsRawFd;

use kvm_bindings::{CpuId, Msrs, kvm_msr_entry, kvm_regs, kvm_segment, kvm_sregs, kvm_xcrs};
use kvm_ioctls::{SyncReg, VcpuFd, VmFd};
use ring0::x86_64::cpu::{
    self, CR0, CR4_BASE, CR4_OSXSAVE, CR4_PCIDE, EFER, MSR_CSTAR, MSR_KERNEL_GS_BASE, MSR_LSTAR,
    MSR_SFMASK, MSR_STAR, STAR,
};
use ring0::x86_64::layout::{
    CODE_VA, IDT_VA, KERNEL_CS, KERNEL_DS, SYSCALL_STUB_OFFSET, TRAMPOLINE_VA, TSS_SELECTOR,
    USER_DS,
};
use ring0::x86_64::rflags::SYSCALL_MASK;
use ring0::x86_64::tss::TSS_SIZE;

use super::entry_area::EntryArea;
use crate::backend::Backend;
use crate::error::{Error, Result};

/// What the host's `/dev/kvm` offers the guest kernel.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Features {
    pub pcid: bool,
    /// XCR0 to give the vCPU (0 without XSAVE).
    pub xcr0: u64,
}

impl Features {
    pub(crate) fn from_cpuid(cpuid: &CpuId) -> Features {
        let entry = |function, index| {
            cpuid
                .as_slice()
                .iter()
                .find(|e| e.function == function && e.index == index)
                .copied()
        };
        let leaf1 = entry(1, 0);
        let pcid = leaf1.is_some_and(|e| e.ecx & cpu::cpuid::PCID != 0);
        let xsave = leaf1.is_some_and(|e| e.ecx & cpu::cpuid::XSAVE != 0);
        let xcr0 = match (xsave, entry(0xd, 0)) {
            (true, Some(d)) => (u64::from(d.edx) << 32 | u64::from(d.eax)) & host_xcr0(),
            _ => 0,
        };
        Features { pcid, xcr0 }
    }
}

/// The host's XCR0: the guest may enable no state component the host does not manage.
fn host_xcr0() -> u64 {
    let leaf1 = core::arch::x86_64::__cpuid(1);
    if leaf1.ecx & (1 << 27) == 0 {
        return 0; // OSXSAVE clear: xgetbv would fault
    }
    let (lo, hi): (u32, u32);
    // SAFETY: OSXSAVE is set, so xgetbv with ECX=0 is defined; it only reads XCR0.
    unsafe {
        core::arch::asm!("xgetbv", in("ecx") 0, out("eax") lo, out("edx") hi,
                         options(nomem, nostack, preserves_flags));
    }
    u64::from(hi) << 32 | u64::from(lo)
}

/// Where a vCPU's registers are, which decides how the next switch loads the application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Position {
    /// At ring 0 in a stub (or never run): the resume stub can take it to ring 3.
    Ring0,
    /// At ring 3 with application state: setting the registers is enough to resume if the
    /// address space, TLB and segment bases still match.
    Ring3,
}

/// One vCPU and what the platform knows of its state.
pub(crate) struct Vcpu {
    pub fd: VcpuFd,
    pub index: usize,
    pub position: Position,
    /// Ring-0 segment state, with the application's FS/GS bases as last loaded.
    pub sregs: kvm_sregs,
    /// The address space, and its generation, whose translations the vCPU's TLB may hold, by
    /// PCID (index 0: no PCID).
    pub tlb: Vec<(u64, u64)>,
    /// CR3 value (with PCID) last loaded.
    pub cr3: u64,
    /// Set up for guest mode (and for which thread), not for the contexts' exit-per-trap
    /// runs.
    pub guest: Option<super::guest_mode::GuestConfig>,
    /// Registers travel through the shared `kvm_run` page instead of two ioctls per trap.
    sync_regs: bool,
}

impl Vcpu {
    pub(crate) fn new(
        vm: &VmFd,
        index: usize,
        cpuid: &CpuId,
        features: Features,
        backend: Backend,
        kernel_cr3: u64,
    ) -> Result<Vcpu> {
        let fd = vm
            .create_vcpu(index as u64)
            .map_err(Error::kvm("KVM_CREATE_VCPU"))?;
        fd.set_cpuid2(cpuid).map_err(Error::kvm("KVM_SET_CPUID2"))?;

        let mut sregs = fd.get_sregs().map_err(Error::kvm("KVM_GET_SREGS"))?;
        let code = segment(KERNEL_CS, 11, 0, true);
        let data = segment(KERNEL_DS, 3, 0, false);
        sregs.cs = code;
        sregs.ss = data;
        // DS/ES/FS/GS hold null selectors with DPL-3 caches, so `iretq` to ring 3 leaves
        // them (and the FS/GS bases) alone.
        let user_data = kvm_segment {
            selector: 0,
            ..segment(USER_DS, 3, 3, false)
        };
        sregs.ds = user_data;
        sregs.es = user_data;
        sregs.fs = user_data;
        sregs.gs = user_data;
        let (gdt_base, gdt_limit) = EntryArea::gdt(index);
        sregs.gdt.base = gdt_base;
        sregs.gdt.limit = gdt_limit;
        sregs.idt.base = IDT_VA;
        sregs.idt.limit = 4095;
        sregs.tr = kvm_segment {
            base: EntryArea::tss_va(index),
            limit: TSS_SIZE as u32 - 1,
            selector: TSS_SELECTOR,
            type_: 11, // busy 64-bit TSS
            present: 1,
            ..Default::default()
        };
        sregs.ldt = kvm_segment {
            type_: 2,
            present: 1,
            limit: 0xffff,
            unusable: 1,
            ..Default::default()
        };
        sregs.cr0 = CR0;
        sregs.cr3 = kernel_cr3;
        sregs.cr4 = CR4_BASE
            | if features.pcid { CR4_PCIDE } else { 0 }
            | if features.xcr0 != 0 { CR4_OSXSAVE } else { 0 };
        sregs.efer = EFER;
        fd.set_sregs(&sregs).map_err(Error::kvm("KVM_SET_SREGS"))?;

        if features.xcr0 != 0 {
            let mut xcrs = kvm_xcrs {
                nr_xcrs: 1,
                ..Default::default()
            };
            xcrs.xcrs[0].value = features.xcr0;
            fd.set_xcrs(&xcrs).map_err(Error::kvm("KVM_SET_XCRS"))?;
        }

        let lstar = match backend {
            Backend::Hardware => CODE_VA + SYSCALL_STUB_OFFSET,
            Backend::Software => TRAMPOLINE_VA,
        };
        let msr = |index, data| kvm_msr_entry {
            index,
            data,
            ..Default::default()
        };
        let entries = [
            msr(MSR_STAR, STAR),
            msr(MSR_LSTAR, lstar),
            msr(MSR_CSTAR, lstar),
            msr(MSR_SFMASK, SYSCALL_MASK),
            msr(MSR_KERNEL_GS_BASE, 0),
        ];
        let msrs = Msrs::from_entries(&entries)
            .map_err(|e| Error::GuestFailure(format!("MSR list: {e:?}")))?;
        let set = fd.set_msrs(&msrs).map_err(Error::kvm("KVM_SET_MSRS"))?;
        if set != entries.len() {
            return Err(Error::GuestFailure(format!(
                "KVM_SET_MSRS set {set} of {} MSRs (MSR {:#x} refused)",
                entries.len(),
                entries[set].index
            )));
        }

        Ok(Vcpu {
            fd,
            index,
            position: Position::Ring0,
            sregs,
            tlb: Vec::new(),
            cr3: kernel_cr3,
            guest: None,
            sync_regs: false,
        })
    }

    /// Makes the vCPU's time-stamp counter read as the host's (an offset of zero), so the
    /// host's vDSO computes the right time when the sentry calls it in guest mode. False
    /// where KVM cannot (before Linux 5.16).
    pub(crate) fn zero_tsc_offset(&self) -> bool {
        /// `struct kvm_device_attr`.
        #[repr(C)]
        struct DeviceAttr {
            flags: u32,
            group: u32,
            attr: u64,
            addr: u64,
        }
        // _IOW(KVMIO, 0xe1, struct kvm_device_attr)
        const KVM_SET_DEVICE_ATTR: libc::c_ulong = 0x4018_aee1;
        let offset = 0u64;
        let attr = DeviceAttr {
            flags: 0,
            group: kvm_bindings::KVM_VCPU_TSC_CTRL,
            attr: u64::from(kvm_bindings::KVM_VCPU_TSC_OFFSET),
            addr: &raw const offset as u64,
        };
        // SAFETY: the vCPU descriptor is open; `attr` is a valid kvm_device_attr whose
        // `addr` names a u64 that outlives the call, which only reads it.
        let r = unsafe { libc::ioctl(self.fd.as_raw_fd(), KVM_SET_DEVICE_ATTR, &raw const attr) };
        r == 0
    }

    /// Exchange general registers through `kvm_run` from now on (KVM_CAP_SYNC_REGS).
    pub(crate) fn use_sync_regs(&mut self) {
        self.fd.set_sync_valid_reg(SyncReg::Register);
        self.sync_regs = true;
    }

    /// The general registers as of the last exit.
    pub(crate) fn regs(&mut self) -> Result<kvm_regs> {
        if self.sync_regs {
            Ok(self.fd.sync_regs_mut().regs)
        } else {
            self.fd.get_regs().map_err(Error::kvm("KVM_GET_REGS"))
        }
    }

    /// Registers for the next entry.
    pub(crate) fn set_regs(&mut self, regs: &kvm_regs) -> Result<()> {
        if self.sync_regs {
            self.fd.sync_regs_mut().regs = *regs;
            self.fd.set_sync_dirty_reg(SyncReg::Register);
            Ok(())
        } else {
            self.fd.set_regs(regs).map_err(Error::kvm("KVM_SET_REGS"))
        }
    }

    /// Whether registers set for the next entry were never taken by KVM (the run stopped
    /// before entering the guest); forgets them, since the caller's copy still stands.
    pub(crate) fn discard_unloaded_regs(&mut self) -> bool {
        if !self.sync_regs || self.fd.get_kvm_run().kvm_dirty_regs & SyncReg::Register as u64 == 0 {
            return false;
        }
        self.fd.clear_sync_dirty_reg(SyncReg::Register);
        true
    }
}

/// A flat 64-bit segment: `type_` 11 is execute/read code, 3 read/write data.
fn segment(selector: u16, type_: u8, dpl: u8, code: bool) -> kvm_segment {
    kvm_segment {
        base: 0,
        limit: 0xffff_ffff,
        selector,
        type_,
        present: 1,
        dpl,
        db: u8::from(!code),
        s: 1,
        l: u8::from(code),
        g: 1,
        ..Default::default()
    }
}
