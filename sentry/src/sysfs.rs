//! The sandbox's own /sys: the little of sysfs that programs read to size themselves (which
//! CPUs exist and are online, as glibc's `get_nprocs` asks), and an empty cgroup mount point.
//! The host's /sys is never shown.

use std::sync::Arc;

use crate::vfs::synthetic::{FnFile, StaticDir, SynthFs};

/// A sysfs for a machine with `cpus` CPUs.
pub fn new(cpus: usize) -> Arc<SynthFs> {
    let range = move || Ok(format!("0-{}\n", cpus.saturating_sub(1)).into_bytes());
    let cpu = StaticDir::new()
        .with("online", FnFile::node(range))
        .with("possible", FnFile::node(range))
        .with("present", FnFile::node(range));
    let root = StaticDir::new()
        .with(
            "devices",
            StaticDir::new()
                .with(
                    "system",
                    StaticDir::new().with("cpu", cpu.into_node()).into_node(),
                )
                .into_node(),
        )
        .with(
            "fs",
            StaticDir::new()
                .with("cgroup", StaticDir::new().into_node())
                .into_node(),
        )
        .with("kernel", StaticDir::new().into_node());
    SynthFs::new("sysfs", Arc::new(root))
}
