//! The system-wide files of /proc.

use abi::Errno;

use crate::vfs::synthetic::{FnFile, SynthNode};

fn file(
    name: &str,
    f: impl Fn() -> Result<Vec<u8>, Errno> + Send + Sync + 'static,
) -> (Vec<u8>, SynthNode) {
    (name.as_bytes().to_vec(), FnFile::node(f))
}

pub fn files(memory: u64, vfs: std::sync::Weak<crate::vfs::Vfs>) -> Vec<(Vec<u8>, SynthNode)> {
    let started = std::time::Instant::now();
    vec![
        file("cpuinfo", crate::host::cpuinfo),
        file("meminfo", move || {
            let kb = memory / 1024;
            Ok(format!(
                "MemTotal:       {kb:8} kB\nMemFree:        {:8} kB\nMemAvailable:   {:8} kB\n\
                 Buffers:               0 kB\nCached:                0 kB\nSwapTotal:             0 kB\n\
                 SwapFree:              0 kB\n",
                kb / 2,
                kb / 2
            )
            .into_bytes())
        }),
        file("mounts", move || {
            Ok(vfs.upgrade().ok_or(Errno::ESRCH)?.mounts_text())
        }),
        file("uptime", move || {
            let t = started.elapsed().as_secs_f64();
            Ok(format!("{t:.2} {t:.2}\n").into_bytes())
        }),
        file("version", || {
            Ok(b"Linux version 6.1.0 (ringfence) #1 SMP ringfence\n".to_vec())
        }),
        file("loadavg", || Ok(b"0.00 0.00 0.00 1/1 1\n".to_vec())),
        file("filesystems", || {
            Ok(b"nodev\ttmpfs\nnodev\tproc\nnodev\toverlay\nnodev\tdevfs\n".to_vec())
        }),
    ]
}
