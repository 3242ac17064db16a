//! Application floating-point and vector state. KVM keeps it in the vCPU, apart from the
//! sentry's own; what the platform must do is move it when a vCPU changes hands between
//! contexts, so no application ever sees another's registers.

use std::sync::Mutex;

use kvm_bindings::{kvm_fpu, kvm_xsave};
use kvm_ioctls::VcpuFd;

use crate::error::{Error, Result};

/// One context's FPU/SSE/AVX registers while they are not loaded in a vCPU.
pub(crate) enum FpuState {
    Xsave(Box<kvm_xsave>),
    Legacy(Box<kvm_fpu>),
}

impl FpuState {
    pub(crate) fn save(fd: &VcpuFd, xsave: bool) -> Result<FpuState> {
        Ok(if xsave {
            FpuState::Xsave(Box::new(
                fd.get_xsave().map_err(Error::kvm("KVM_GET_XSAVE"))?,
            ))
        } else {
            FpuState::Legacy(Box::new(fd.get_fpu().map_err(Error::kvm("KVM_GET_FPU"))?))
        })
    }

    pub(crate) fn load(&self, fd: &VcpuFd) -> Result<()> {
        match self {
            // SAFETY: the buffer is a whole `kvm_xsave` taken with KVM_GET_XSAVE from a vCPU
            // of this machine, which all share one CPUID, so it has the size KVM expects.
            FpuState::Xsave(x) => unsafe { fd.set_xsave(x) }.map_err(Error::kvm("KVM_SET_XSAVE")),
            FpuState::Legacy(f) => fd.set_fpu(f).map_err(Error::kvm("KVM_SET_FPU")),
        }
    }
}

/// Where a context's FPU state is: in its slot, or still loaded in vCPU `resident_on`.
#[derive(Default)]
pub(crate) struct FpuSlot {
    pub inner: Mutex<FpuSlotInner>,
}

#[derive(Default)]
pub(crate) struct FpuSlotInner {
    /// The saved state; `None` until the context first runs (it then gets the initial state).
    pub saved: Option<FpuState>,
    pub resident_on: Option<usize>,
}
