//! Floating-point and vector state across the guest-mode boundary: the thread's registers
//! are in the signal frame's FPU area while the entry handler runs, so they go from there
//! into the vCPU on entry and back on exit, and code keeps its FP values whichever mode it
//! is in.

use kvm_bindings::{kvm_fpu, kvm_xsave};
use kvm_ioctls::VcpuFd;

use crate::error::{Error, Result};

/// `FP_XSTATE_MAGIC1`: the kernel wrote an XSAVE area after the legacy 512 bytes.
const XSTATE_MAGIC1: u32 = 0x4650_5853;
/// Where the kernel's software-reserved bytes (`struct _fpx_sw_bytes`) start; user code must
/// keep them.
const SW_RESERVED: usize = 464;
const LEGACY: usize = 512;
/// Offset of XSTATE_BV in the XSAVE header, right after the legacy area.
const XSTATE_BV: usize = 512;
const KVM_XSAVE: usize = 4096;

/// The FPU area of a signal frame.
pub(crate) struct FrameFpu<'a> {
    bytes: &'a mut [u8],
}

impl<'a> FrameFpu<'a> {
    /// The area `fpregs` of a `ucontext` points at.
    ///
    /// # Safety
    /// `fpregs` must be null or the `uc_mcontext.fpregs` of a live signal frame of this
    /// thread, which outlives `'a`.
    pub(crate) unsafe fn new(fpregs: *mut u8) -> Option<FrameFpu<'a>> {
        if fpregs.is_null() {
            return None;
        }
        // SAFETY: the frame's FPU area holds at least the 512-byte legacy region, whose
        // software-reserved words say whether an XSAVE area of `xstate_size` bytes follows.
        let (magic, size) = unsafe {
            let sw = fpregs.add(SW_RESERVED);
            (
                sw.cast::<u32>().read_unaligned(),
                sw.add(16).cast::<u32>().read_unaligned() as usize,
            )
        };
        let len = if magic == XSTATE_MAGIC1 && size >= LEGACY {
            size
        } else {
            LEGACY
        };
        // SAFETY: as above, `len` bytes of the frame belong to this FPU area.
        let bytes = unsafe { std::slice::from_raw_parts_mut(fpregs, len) };
        Some(FrameFpu { bytes })
    }

    /// Loads this state into `fd`: through XSAVE if the vCPU has it (`xcr0` its enabled
    /// components, 0 if none), else the legacy part.
    pub(crate) fn load(&self, fd: &VcpuFd, xcr0: u64) -> Result<()> {
        if xcr0 != 0 {
            let mut x = kvm_xsave::default();
            let n = self.bytes.len().min(KVM_XSAVE);
            let region = as_bytes_mut(&mut x.region);
            region[..n].copy_from_slice(&self.bytes[..n]);
            region[SW_RESERVED..LEGACY].fill(0);
            let bv = if self.bytes.len() <= LEGACY {
                // No XSAVE header in the frame: x87 and SSE state only.
                3
            } else {
                let mut word = [0u8; 8];
                word.copy_from_slice(&region[XSTATE_BV..XSTATE_BV + 8]);
                u64::from_le_bytes(word)
            };
            // Only components the vCPU enables (the host may have more, e.g. PKRU), and a
            // header otherwise zero (standard format): KVM refuses anything else.
            region[XSTATE_BV..XSTATE_BV + 64].fill(0);
            region[XSTATE_BV..XSTATE_BV + 8].copy_from_slice(&(bv & xcr0).to_le_bytes());
            // SAFETY: `x` is a whole 4096-byte kvm_xsave, the size KVM_SET_XSAVE reads.
            unsafe { fd.set_xsave(&x) }.map_err(Error::kvm("KVM_SET_XSAVE"))
        } else {
            fd.set_fpu(&self.legacy())
                .map_err(Error::kvm("KVM_SET_FPU"))
        }
    }

    /// Stores `fd`'s state into this frame, keeping the kernel's software-reserved bytes.
    pub(crate) fn store(&mut self, fd: &VcpuFd, xcr0: u64) -> Result<()> {
        if xcr0 != 0 && self.bytes.len() > LEGACY {
            let x = fd.get_xsave().map_err(Error::kvm("KVM_GET_XSAVE"))?;
            let region = as_bytes(&x.region);
            let n = self.bytes.len().min(KVM_XSAVE);
            self.bytes[..SW_RESERVED].copy_from_slice(&region[..SW_RESERVED]);
            // The header's XSTATE_BV, then the components the vCPU has; components only the
            // host has keep their values (the guest could not have changed them).
            let mut word = [0u8; 8];
            word.copy_from_slice(&region[XSTATE_BV..XSTATE_BV + 8]);
            let mut frame_bv = [0u8; 8];
            frame_bv.copy_from_slice(&self.bytes[XSTATE_BV..XSTATE_BV + 8]);
            let bv = (u64::from_le_bytes(frame_bv) & !xcr0) | (u64::from_le_bytes(word) & xcr0);
            self.bytes[XSTATE_BV..XSTATE_BV + 8].copy_from_slice(&bv.to_le_bytes());
            for component in 2..64 {
                if xcr0 & (1 << component) == 0 {
                    continue;
                }
                // CPUID leaf 0xD exists wherever XSAVE does, which `xcr0 != 0` says.
                let leaf = core::arch::x86_64::__cpuid_count(0xd, component);
                let (size, at) = (leaf.eax as usize, leaf.ebx as usize);
                if size > 0 && at >= LEGACY + 64 && at + size <= n {
                    self.bytes[at..at + size].copy_from_slice(&region[at..at + size]);
                }
            }
            Ok(())
        } else {
            let f = fd.get_fpu().map_err(Error::kvm("KVM_GET_FPU"))?;
            self.set_legacy(&f);
            Ok(())
        }
    }

    /// The legacy (FXSAVE) part as KVM's `kvm_fpu`.
    fn legacy(&self) -> kvm_fpu {
        let b = &self.bytes;
        let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
        let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap_or([0; 8]));
        let mut f = kvm_fpu {
            fcw: u16_at(0),
            fsw: u16_at(2),
            ftwx: b[4],
            last_opcode: u16_at(6),
            last_ip: u64_at(8),
            last_dp: u64_at(16),
            mxcsr: u32::from_le_bytes([b[24], b[25], b[26], b[27]]),
            ..Default::default()
        };
        for (i, r) in f.fpr.iter_mut().enumerate() {
            r.copy_from_slice(&b[32 + 16 * i..48 + 16 * i]);
        }
        for (i, r) in f.xmm.iter_mut().enumerate() {
            r.copy_from_slice(&b[160 + 16 * i..176 + 16 * i]);
        }
        f
    }

    fn set_legacy(&mut self, f: &kvm_fpu) {
        let b = &mut self.bytes;
        b[0..2].copy_from_slice(&f.fcw.to_le_bytes());
        b[2..4].copy_from_slice(&f.fsw.to_le_bytes());
        b[4] = f.ftwx;
        b[6..8].copy_from_slice(&f.last_opcode.to_le_bytes());
        b[8..16].copy_from_slice(&f.last_ip.to_le_bytes());
        b[16..24].copy_from_slice(&f.last_dp.to_le_bytes());
        b[24..28].copy_from_slice(&f.mxcsr.to_le_bytes());
        for (i, r) in f.fpr.iter().enumerate() {
            b[32 + 16 * i..48 + 16 * i].copy_from_slice(r);
        }
        for (i, r) in f.xmm.iter().enumerate() {
            b[160 + 16 * i..176 + 16 * i].copy_from_slice(r);
        }
    }
}

/// The components `GuestFpu` saves and restores: x87, SSE, AVX, the AVX-512 state and PKRU,
/// which all fit its 4 KiB in the standard layout (AMX tiles would not).
pub(crate) const SAVED_COMPONENTS: u32 = 0x2e7;

/// An application's floating-point and vector registers between guest-mode switches, in
/// the standard XSAVE format (or FXSAVE's where the vCPU has no XSAVE), which the switch's
/// assembly saves and restores (`SAVED_COMPONENTS`). New: the initial state.
#[repr(C, align(64))]
pub struct GuestFpu {
    area: [u8; KVM_XSAVE],
}

impl Default for GuestFpu {
    fn default() -> Self {
        GuestFpu::new()
    }
}

impl GuestFpu {
    pub fn new() -> GuestFpu {
        let mut area = [0u8; KVM_XSAVE];
        // MXCSR's reset value, for FXRSTOR (XRSTOR initialises components whose XSTATE_BV
        // bit is clear, which all are).
        area[24..28].copy_from_slice(&0x1f80u32.to_le_bytes());
        area[0..2].copy_from_slice(&0x37fu16.to_le_bytes());
        GuestFpu { area }
    }

    /// On the host: takes the registers a vCPU holds (an application interrupted while it
    /// ran).
    pub(crate) fn take_from(&mut self, fd: &VcpuFd, xsave: bool) -> Result<()> {
        if xsave {
            let x = fd.get_xsave().map_err(Error::kvm("KVM_GET_XSAVE"))?;
            self.area.copy_from_slice(as_bytes(&x.region));
        } else {
            let f = fd.get_fpu().map_err(Error::kvm("KVM_GET_FPU"))?;
            let mut frame = FrameFpu {
                bytes: &mut self.area[..LEGACY],
            };
            frame.set_legacy(&f);
        }
        Ok(())
    }
}

fn as_bytes(words: &[u32; 1024]) -> &[u8; KVM_XSAVE] {
    // SAFETY: 1024 u32s are 4096 bytes with no padding, and u8 has no alignment needs.
    unsafe { &*words.as_ptr().cast::<[u8; KVM_XSAVE]>() }
}

fn as_bytes_mut(words: &mut [u32; 1024]) -> &mut [u8; KVM_XSAVE] {
    // SAFETY: as in `as_bytes`, exclusively borrowed.
    unsafe { &mut *words.as_mut_ptr().cast::<[u8; KVM_XSAVE]>() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_layout_round_trips() {
        let mut area = vec![0u8; LEGACY];
        for (i, b) in area.iter_mut().enumerate() {
            *b = (i * 7 % 251) as u8;
        }
        area[SW_RESERVED..LEGACY].fill(0);
        let original = area.clone();
        // SAFETY: `area` is a 512-byte buffer without the XSAVE magic, alive below.
        let mut frame = unsafe { FrameFpu::new(area.as_mut_ptr()) }.expect("frame");
        assert_eq!(frame.bytes.len(), LEGACY);
        let f = frame.legacy();
        assert_eq!(f.fcw, u16::from_le_bytes([original[0], original[1]]));
        assert_eq!(f.xmm[15], original[400..416]);
        frame.bytes.fill(0);
        frame.set_legacy(&f);
        // Everything FXSAVE defines comes back (byte 5 and 28..32 are not in kvm_fpu).
        for (i, (a, b)) in original.iter().zip(area.iter()).enumerate() {
            if i != 5 && !(28..32).contains(&i) && i < 416 {
                assert_eq!(a, b, "byte {i}");
            }
        }
    }
}
