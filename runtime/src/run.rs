//! `ringfence do`: run one program in a fresh sandbox.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use sentry::sandbox::{Options, Outcome, SandboxError};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Which platform to run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PlatformChoice {
    Kvm,
    Ptrace,
}

pub fn run(
    platform: Option<PlatformChoice>,
    root: &Path,
    stats: bool,
    argv: Vec<String>,
) -> Result<ExitCode> {
    if !root.is_dir() {
        return Err(format!("--root {}: not a directory", root.display()).into());
    }
    // With the host's root as the sandbox's, the program starts where the caller is.
    let cwd = match (root.canonicalize(), std::env::current_dir()) {
        (Ok(r), Ok(here)) if r == Path::new("/") => here.to_string_lossy().into_owned(),
        _ => "/".to_string(),
    };
    let opts = Options {
        cwd,
        root: PathBuf::from(root),
        argv,
        envp: std::env::vars().map(|(k, v)| format!("{k}={v}")).collect(),
    };
    let choice = match platform {
        Some(p) => p,
        None if Path::new("/dev/kvm").exists() => PlatformChoice::Kvm,
        None => {
            eprintln!("ringfence: /dev/kvm is not available; using the ptrace platform");
            PlatformChoice::Ptrace
        }
    };
    let outcome = match choice {
        PlatformChoice::Kvm => run_kvm(&opts)?,
        PlatformChoice::Ptrace => {
            return Err("the ptrace platform is not available yet".into());
        }
    };
    if stats {
        eprintln!("ringfence-stats: {}", outcome.stats);
    }
    Ok(ExitCode::from(outcome.status.code() as u8))
}

#[cfg(target_arch = "x86_64")]
fn run_kvm(opts: &Options) -> std::result::Result<Outcome, SandboxError> {
    let kvm = sentry::platform::kvm::Kvm::new(platform_kvm::MachineConfig::default())
        .map_err(SandboxError::Platform)?;
    tracing::info!(
        "platform: {}",
        sentry::platform::Platform::description(&kvm)
    );
    sentry::sandbox::run(kvm, opts)
}

#[cfg(not(target_arch = "x86_64"))]
fn run_kvm(_opts: &Options) -> std::result::Result<Outcome, SandboxError> {
    Err(SandboxError::Platform(
        platform_kvm::Error::UnsupportedArch.into(),
    ))
}
