//! What the benchmark needs before it measures: the bench program, the `ringfence` binary,
//! and a description of the machine for the report.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root (this crate lives in `<root>/benches`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("benches/ has a parent")
        .to_path_buf()
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// Compile `tests/fixtures/bench.c` statically into `out_dir`; its absolute path. With
/// `RF_BENCH_PROGRAM` set, that prebuilt program instead (machines without gcc, such as the
/// emulated ones of `ci/`).
pub fn compile_bench(out_dir: &Path) -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("RF_BENCH_PROGRAM") {
        return std::path::absolute(path).map_err(|e| e.to_string());
    }
    let src = workspace_root().join("tests/fixtures/bench.c");
    let out = out_dir.join("bench");
    let status = Command::new("gcc")
        .args(["-O2", "-Wall", "-static", "-pthread", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .map_err(|e| format!("cannot run gcc ({e}); install gcc and the static glibc"))?;
    if !status.success() {
        return Err(format!("gcc failed on {}: {status}", src.display()));
    }
    std::path::absolute(&out).map_err(|e| e.to_string())
}

/// The `ringfence` binary: `RF_BENCH_RINGFENCE` if set; otherwise build it (release) so the
/// numbers are of the current source, falling back to an existing build if that fails.
pub fn ringfence() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("RF_BENCH_RINGFENCE") {
        return Ok(PathBuf::from(path));
    }
    let binary = target_dir().join("release/ringfence");
    eprintln!("building ringfence: cargo build --release -p ringfence");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let built = Command::new(cargo)
        .args(["build", "--release", "-p", "ringfence"])
        .current_dir(workspace_root())
        .status();
    match built {
        Ok(s) if s.success() => Ok(binary),
        result if binary.exists() => {
            let why = result.map_or_else(|e| e.to_string(), |s| s.to_string());
            eprintln!(
                "warning: building ringfence failed ({why}); using the existing {}",
                binary.display()
            );
            Ok(binary)
        }
        result => Err(format!(
            "cannot build ringfence ({}) and {} does not exist",
            result.map_or_else(|e| e.to_string(), |s| s.to_string()),
            binary.display()
        )),
    }
}

/// One line about the host: CPU, CPU count, kernel, and what `ringfence platform` says.
pub fn describe_machine(ringfence: &Path) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let platform = Command::new(ringfence)
        .arg("platform")
        .output()
        .ok()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .replace('\n', "; ")
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "`ringfence platform` failed".into());
    let commit = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(workspace_root())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    format!("{cpu}, {cpus} CPUs, Linux {kernel}; ringfence {platform}; commit {commit}")
}
