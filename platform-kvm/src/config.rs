//! How big a machine to build.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use kvm_ioctls::{Cap, Kvm};

use crate::backend::Backend;
use crate::error::{Error, Result};

/// How big a machine to build.
#[derive(Clone, Debug)]
pub struct MachineConfig {
    /// vCPUs created up front; more contexts than vCPUs share them.
    pub vcpus: usize,
    /// Size of the memory file (sparse: only touched pages cost memory).
    pub memory_size: u64,
    /// Reserved host memory for page tables.
    pub table_memory: u64,
    /// Force a backend instead of detecting it (aarch64 has only the hardware one).
    pub backend: Option<Backend>,
    /// The KVM device.
    pub device: PathBuf,
}

impl Default for MachineConfig {
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        MachineConfig {
            vcpus: (2 * cpus).clamp(4, 64),
            memory_size: 4 << 30,
            table_memory: 256 << 20,
            backend: None,
            device: PathBuf::from("/dev/kvm"),
        }
    }
}

impl MachineConfig {
    /// Opens the KVM device and checks what every machine needs; a clear error (never a
    /// panic) when KVM is missing or unusable.
    pub(crate) fn open_kvm(&self) -> Result<Kvm> {
        let device = &self.device;
        if !device.exists() {
            return Err(Error::NoKvm(device.clone()));
        }
        let open_err = |source: std::io::Error| Error::OpenKvm {
            path: device.clone(),
            source,
        };
        let path = CString::new(device.as_os_str().as_bytes())
            .map_err(|e| open_err(std::io::Error::other(e)))?;
        let kvm = Kvm::new_with_path(&path).map_err(|e| open_err(e.into()))?;
        let api = kvm.get_api_version();
        if api != 12 {
            return Err(Error::ApiVersion(api));
        }
        if !kvm.check_extension(Cap::UserMemory) {
            return Err(Error::MissingCapability("KVM_CAP_USER_MEMORY"));
        }
        Ok(kvm)
    }
}
