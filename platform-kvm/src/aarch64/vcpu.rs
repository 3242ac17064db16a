//! One aarch64 vCPU: created and initialised once, then set up to run the entry code at EL1
//! with the kernel's upper half, and its frame's address in SP_EL1.

use kvm_bindings::{
    KVM_ARM_VCPU_SVE, KVM_REG_ARM_CORE, KVM_REG_ARM64, KVM_REG_ARM64_SYSREG, KVM_REG_SIZE_U64,
    kvm_vcpu_init,
};
use kvm_ioctls::{VcpuFd, VmFd};
use ring0::aarch64::layout::{CODE_VA, frame_va};
use ring0::aarch64::{sysregs, vectors};

use crate::error::{Error, Result};

/// KVM register ids of the core registers (`struct kvm_regs`): the offset in 32-bit words.
pub(crate) mod core_reg {
    const fn id(byte_offset: u64) -> u64 {
        KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE as u64 | (byte_offset / 4)
    }
    use super::*;
    pub const PC: u64 = id(32 * 8);
    pub const PSTATE: u64 = id(33 * 8);
    pub const SP_EL1: u64 = id(34 * 8);
    pub const ELR_EL1: u64 = id(35 * 8);
    /// `spsr[KVM_SPSR_EL1]`.
    pub const SPSR_EL1: u64 = id(36 * 8);
}

/// KVM register id of system register `op0, op1, CRn, CRm, op2`.
const fn sys_reg(op0: u64, op1: u64, crn: u64, crm: u64, op2: u64) -> u64 {
    KVM_REG_ARM64
        | KVM_REG_SIZE_U64
        | KVM_REG_ARM64_SYSREG as u64
        | (op0 << 14)
        | (op1 << 11)
        | (crn << 7)
        | (crm << 3)
        | op2
}

const SCTLR_EL1: u64 = sys_reg(3, 0, 1, 0, 0);
const CPACR_EL1: u64 = sys_reg(3, 0, 1, 0, 2);
const TTBR0_EL1: u64 = sys_reg(3, 0, 2, 0, 0);
const TTBR1_EL1: u64 = sys_reg(3, 0, 2, 0, 1);
const TCR_EL1: u64 = sys_reg(3, 0, 2, 0, 2);
const MAIR_EL1: u64 = sys_reg(3, 0, 10, 2, 0);
const VBAR_EL1: u64 = sys_reg(3, 0, 12, 0, 0);
const CNTKCTL_EL1: u64 = sys_reg(3, 0, 14, 1, 0);
const TPIDR_EL1: u64 = sys_reg(3, 0, 13, 0, 4);

pub(crate) struct Vcpu {
    pub fd: VcpuFd,
    pub index: usize,
    /// The vCPU is not stopped after the exit write (an interrupted resume, a failure): put
    /// it back at the start of the resume code before the next run.
    pub needs_reset: bool,
}

impl Vcpu {
    /// `sve`: give the vCPU SVE (for the sentry at EL1 in guest mode, whose glibc picks SVE
    /// string functions where the host has SVE; applications at EL0 never get it).
    pub(crate) fn new(vm: &VmFd, index: usize, kernel_ttbr1: u64, sve: bool) -> Result<Vcpu> {
        let fd = vm
            .create_vcpu(index as u64)
            .map_err(Error::kvm("KVM_CREATE_VCPU"))?;
        let mut init = kvm_vcpu_init::default();
        vm.get_preferred_target(&mut init)
            .map_err(Error::kvm("KVM_ARM_PREFERRED_TARGET"))?;
        if sve {
            init.features[0] |= 1 << KVM_ARM_VCPU_SVE;
        }
        fd.vcpu_init(&init)
            .map_err(Error::kvm("KVM_ARM_VCPU_INIT"))?;
        if sve {
            fd.vcpu_finalize(&(KVM_ARM_VCPU_SVE as i32))
                .map_err(Error::kvm("KVM_ARM_VCPU_FINALIZE"))?;
        }
        let vcpu = Vcpu {
            fd,
            index,
            needs_reset: true,
        };
        for (reg, value) in [
            (MAIR_EL1, sysregs::MAIR_EL1),
            (TCR_EL1, sysregs::TCR_EL1),
            (TTBR1_EL1, kernel_ttbr1),
            (TTBR0_EL1, kernel_ttbr1),
            (VBAR_EL1, CODE_VA),
            (
                CPACR_EL1,
                sysregs::CPACR_EL1 | if sve { sysregs::CPACR_ZEN_EL1 } else { 0 },
            ),
            (CNTKCTL_EL1, sysregs::CNTKCTL_EL1),
            (SCTLR_EL1, sysregs::SCTLR_EL1),
            (TPIDR_EL1, frame_va(index)),
        ] {
            vcpu.set(reg, value)?;
        }
        Ok(vcpu)
    }

    pub(crate) fn set(&self, reg: u64, value: u64) -> Result<()> {
        self.fd
            .set_one_reg(reg, &value.to_le_bytes())
            .map(drop)
            .map_err(Error::kvm("KVM_SET_ONE_REG"))
    }

    pub(crate) fn get(&self, reg: u64) -> Result<u64> {
        let mut b = [0u8; 8];
        self.fd
            .get_one_reg(reg, &mut b)
            .map_err(Error::kvm("KVM_GET_ONE_REG"))?;
        Ok(u64::from_le_bytes(b))
    }

    /// Takes the vCPU, stopped at `pc` with `pstate` (in the application), into vector entry
    /// `vector` of the entry code, as if that exception had come: its save path then stores
    /// the application's state into the frame. (After `KVM_RUN` returned EINTR only: no MMIO
    /// is pending.)
    pub(crate) fn raise(&mut self, vector: u64, pc: u64, pstate: u64) -> Result<()> {
        self.set(core_reg::ELR_EL1, pc)?;
        self.set(core_reg::SPSR_EL1, pstate)?;
        self.set(core_reg::PSTATE, sysregs::PSTATE_EL1H_MASKED)?;
        self.set(core_reg::PC, CODE_VA + 0x80 * vector)
    }

    /// Puts the vCPU where it stands after an exit, at EL1 with its frame in SP_EL1 (it then
    /// goes where the frame's ENTER field says).
    ///
    /// Never right after an MMIO exit: KVM would still step the PC over the exit's write.
    pub(crate) fn reset_to_dispatch(&mut self) -> Result<()> {
        self.set(core_reg::PSTATE, sysregs::PSTATE_EL1H_MASKED)?;
        self.set(core_reg::SP_EL1, frame_va(self.index))?;
        self.set(core_reg::PC, CODE_VA + vectors::dispatch_offset())?;
        self.needs_reset = false;
        Ok(())
    }
}
