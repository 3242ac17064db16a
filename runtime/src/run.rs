//! `ringfence do`: run one program in a fresh sandbox.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use sentry::sandbox::{Options, Outcome, SandboxError, Signaller};
use sentry::vfs::{MountKind, MountSpec};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Which platform to run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PlatformChoice {
    Kvm,
    Ptrace,
}

/// The file system a `ringfence do` sandbox sees.
pub struct Tree {
    pub root: PathBuf,
    pub mounts: Vec<MountSpec>,
    pub readonly_root: bool,
}

/// Parses `--volume HOST:SANDBOX[:ro|:rw]`: the host path must exist, the sandbox path be
/// absolute.
pub fn parse_volume(s: &str) -> std::result::Result<MountSpec, String> {
    let parts: Vec<&str> = s.split(':').collect();
    let (host, dest, readonly) = match parts.as_slice() {
        [h, d] => (*h, *d, false),
        [h, d, "ro"] => (*h, *d, true),
        [h, d, "rw"] => (*h, *d, false),
        [_, _, o] => return Err(format!("unknown volume option {o:?} (ro or rw)")),
        _ => return Err("expected HOST:SANDBOX or HOST:SANDBOX:ro".into()),
    };
    if !dest.starts_with('/') {
        return Err(format!("{dest}: the sandbox path must be absolute"));
    }
    let source = Path::new(host)
        .canonicalize()
        .map_err(|e| format!("{host}: {e}"))?;
    Ok(MountSpec {
        destination: dest.to_string(),
        kind: MountKind::Bind { source },
        readonly,
    })
}

pub fn run(
    platform: Option<PlatformChoice>,
    tree: &Tree,
    stats: bool,
    argv: Vec<String>,
) -> Result<ExitCode> {
    let root = tree.root.as_path();
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
        hostname: None,
        readonly_root: tree.readonly_root,
        mounts: tree.mounts.clone(),
        user: sentry::vfs::Creds::root(),
        umask: None,
        rlimits: Vec::new(),
        preserve_fds: 0,
    };
    run_options(platform, &opts, stats, Box::new(forward_signals)).map(ExitCode::from)
}

/// Run `opts` on `platform` (default: kvm when /dev/kvm works, else ptrace); the program's
/// exit status as a shell reports it.
/// What to do once the program runs, with the handle on its sandbox.
pub type OnStart = Box<dyn FnOnce(Signaller) + Send>;

pub fn run_options(
    platform: Option<PlatformChoice>,
    opts: &Options,
    stats: bool,
    on_start: OnStart,
) -> Result<u8> {
    let choice = match platform {
        Some(p) => p,
        None if Path::new("/dev/kvm").exists() => PlatformChoice::Kvm,
        None => {
            eprintln!("ringfence: /dev/kvm is not available; using the ptrace platform");
            PlatformChoice::Ptrace
        }
    };
    let outcome = match choice {
        PlatformChoice::Kvm => run_kvm(opts, platform.is_none(), kvm_mode()?, on_start)?,
        PlatformChoice::Ptrace => run_ptrace(opts, on_start)?,
    };
    if stats {
        eprintln!("ringfence-stats: {}", outcome.stats);
    }
    Ok(outcome.status.code() as u8)
}

/// The exit status for a program that could not start, as shells report it: 127 when it
/// does not exist, 126 when it cannot be executed, 125 for failures of ringfence itself.
pub fn failure_code(e: &(dyn std::error::Error + 'static)) -> u8 {
    match e.downcast_ref::<SandboxError>() {
        Some(SandboxError::Exec { errno, .. }) if *errno == abi::Errno::ENOENT => 127,
        Some(SandboxError::Exec { .. }) => 126,
        _ => 125,
    }
}

/// Forward the signals a user or engine sends to `ringfence` to the program.
pub fn forward_signals(signaller: Signaller) {
    use signal_hook::consts::*;
    let Ok(mut signals) =
        signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2])
    else {
        tracing::warn!(
            "cannot install signal handlers: signals to ringfence will not be forwarded"
        );
        return;
    };
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                signaller.send(sig);
            }
        });
    if spawned.is_err() {
        tracing::warn!("cannot start the signal thread: signals will not be forwarded");
    }
}

/// Run on KVM; with `fallback`, a KVM that exists but cannot be used (permissions, a VM
/// limit) sends the program to ptrace instead, as when /dev/kvm is missing.
fn run_kvm(
    opts: &Options,
    fallback: bool,
    mode: KvmMode,
    on_start: OnStart,
) -> std::result::Result<Outcome, SandboxError> {
    let config = platform_kvm::MachineConfig {
        memory_size: MEMORY_SIZE,
        ..platform_kvm::MachineConfig::default()
    };
    let mut kvm = match sentry::platform::kvm::Kvm::new(config) {
        Ok(kvm) => kvm,
        Err(e) if fallback => {
            eprintln!("ringfence: KVM is not usable ({e}); using the ptrace platform");
            return run_ptrace(opts, on_start);
        }
        Err(e) => return Err(SandboxError::Platform(e)),
    };
    // Guest mode (the sentry at guest ring 0, no VM exit per application trap) wherever the
    // backend can run it; the software backend emulates ring 0 and stays in exit-per-trap.
    if mode == KvmMode::Guest {
        match kvm.enable_guest_mode() {
            Ok(true) => tracing::info!("KVM guest mode on"),
            Ok(false) => tracing::info!(
                "KVM guest mode needs the hardware backend: exit-per-trap mode on this host"
            ),
            Err(e) => eprintln!("ringfence: KVM guest mode: {e}; using exit-per-trap mode"),
        }
    }
    tracing::info!(
        "platform: {}",
        sentry::platform::Platform::description(&kvm)
    );
    sentry::sandbox::run(kvm, opts, on_start)
}

/// How the KVM platform runs applications: `guest` (the default; hardware backend only) or
/// `exit-per-trap` (for comparison).
const KVM_MODE_ENV: &str = "RINGFENCE_KVM_MODE";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KvmMode {
    /// The sentry runs at guest ring 0 and application traps come back without VM exits.
    Guest,
    /// Every application trap is a VM exit to the sentry on the host.
    ExitPerTrap,
}

fn kvm_mode() -> Result<KvmMode> {
    match std::env::var(KVM_MODE_ENV).as_deref() {
        Err(std::env::VarError::NotPresent) | Ok("" | "guest") => Ok(KvmMode::Guest),
        Ok("exit-per-trap") => Ok(KvmMode::ExitPerTrap),
        Ok(other) => {
            Err(format!("{KVM_MODE_ENV} must be 'guest' or 'exit-per-trap', not '{other}'").into())
        }
        Err(e) => Err(format!("{KVM_MODE_ENV}: {e}").into()),
    }
}

/// Size of the memory file: sparse, so only what the program touches costs memory.
const MEMORY_SIZE: u64 = 4 << 30;

#[cfg(target_arch = "x86_64")]
fn run_ptrace(opts: &Options, on_start: OnStart) -> std::result::Result<Outcome, SandboxError> {
    let ptrace = sentry::platform::ptrace::Ptrace::new(MEMORY_SIZE)?;
    sentry::sandbox::run(ptrace, opts, on_start)
}

/// The ptrace platform's stub and instruction decoding are x86_64 code.
#[cfg(not(target_arch = "x86_64"))]
fn run_ptrace(_opts: &Options, _on_start: OnStart) -> std::result::Result<Outcome, SandboxError> {
    Err(SandboxError::Platform(
        sentry::platform::ptrace::Error::UnsupportedArch.into(),
    ))
}
