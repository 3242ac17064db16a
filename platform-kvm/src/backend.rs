//! Which kind of `/dev/kvm` this host has, and therefore how traps leave the guest.

use std::fmt;
use std::path::Path;

/// The two KVM backends (see DESIGN.md, "Two kinds of /dev/kvm").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Hardware virtualization (VMX/SVM, or EL2 on ARM64): guest ring 0 runs natively, and a
    /// ring-3 `syscall` enters the guest kernel at ring 0.
    Hardware,
    /// Software-virtualized KVM (`kvm_pvm`): guest ring 0 is emulated and a ring-3 `syscall`
    /// stays at ring 3, so traps leave the guest before running any ring-0 code they can
    /// avoid.
    Software,
}

impl Backend {
    /// The environment variable that overrides detection (`hardware` or `software`).
    pub const ENV: &'static str = "RINGFENCE_KVM_BACKEND";

    /// The backend of this host's `/dev/kvm`: the override if set, else `Software` when the
    /// `kvm_pvm` module is loaded, else `Hardware`.
    pub fn detect() -> Backend {
        match std::env::var(Self::ENV).as_deref() {
            Ok("hardware") => return Backend::Hardware,
            Ok("software") => return Backend::Software,
            _ => {}
        }
        if Path::new("/sys/module/kvm_pvm").exists() {
            Backend::Software
        } else {
            Backend::Hardware
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Hardware => "hardware",
            Backend::Software => "software",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
