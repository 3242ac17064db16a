//! How big a machine to build.

use std::path::PathBuf;

use crate::backend::Backend;

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
