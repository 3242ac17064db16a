//! A bundle's `config.json` turned into what `ringfence do` runs; fields the sandbox cannot
//! honour yet are refused by name rather than ignored.

use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;
use sentry::vfs::{Creds, MountKind, MountSpec};

use super::state::Result;
use crate::run::PlatformChoice;

/// The annotation that chooses the platform.
pub(super) const PLATFORM_ANNOTATION: &str = "dev.ringfence.platform";

/// What a container runs.
pub struct Container {
    pub root: PathBuf,
    pub argv: Vec<String>,
    pub envp: Vec<String>,
    pub cwd: String,
    pub hostname: Option<String>,
    pub readonly_root: bool,
    pub mounts: Vec<MountSpec>,
    pub user: Creds,
    pub umask: Option<u32>,
    pub hooks: oci_spec::runtime::Hooks,
    /// `process.terminal`, and `process.consoleSize` as rows and columns.
    pub terminal: bool,
    pub console_size: Option<(u16, u16)>,
    /// `process.rlimits` as (resource, soft, hard).
    pub rlimits: Vec<(u32, u64, u64)>,
    /// `--preserve-fds` of the command line (not from the bundle).
    pub preserve_fds: u32,
    pub platform: Option<PlatformChoice>,
    pub annotations: serde_json::Value,
}

/// Mounts the sandbox provides itself (its own /proc, /dev, /tmp…), by type and destination:
/// a config asking for them is satisfied.
const PROVIDED: &[(&str, &str)] = &[
    ("proc", "/proc"),
    ("tmpfs", "/dev"),
    ("devtmpfs", "/dev"),
    ("tmpfs", "/tmp"),
    ("devpts", "/dev/pts"),
    ("tmpfs", "/dev/shm"),
    ("shm", "/dev/shm"),
    ("mqueue", "/dev/mqueue"),
    ("sysfs", "/sys"),
    ("cgroup", "/sys/fs/cgroup"),
    ("cgroup2", "/sys/fs/cgroup"),
];

/// Where a bind mount may not go: the sandbox's own kernel file systems.
const NO_BIND: &[&str] = &["/", "/proc", "/dev", "/dev/pts"];

/// Turns `config.json`'s `mounts` into the sandbox's: bind mounts and tmpfs instances; the
/// sandbox's own file systems are skipped; anything else is refused by index and destination.
fn mounts(spec: &Spec, bundle: &Path) -> Result<Vec<MountSpec>> {
    let mut out = Vec::new();
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let raw = m.destination().to_string_lossy();
        let dest = if raw.starts_with('/') {
            raw.trim_end_matches('/').to_string()
        } else {
            format!("/{}", raw.trim_end_matches('/'))
        };
        let dest = if dest.is_empty() {
            "/".to_string()
        } else {
            dest
        };
        let refuse = |why: &str| format!("mounts[{i}] ({dest}): {why}");
        let options = m.options().clone().unwrap_or_default();
        let readonly = options.iter().any(|o| o == "ro");
        let typ = m.typ().as_deref().unwrap_or("");
        let bind = typ == "bind" || options.iter().any(|o| o == "bind" || o == "rbind");
        if bind {
            if NO_BIND.contains(&dest.as_str()) || dest.starts_with("/proc/") {
                return Err(refuse(
                    "the sandbox's own file systems cannot be bind mounted over",
                ));
            }
            let source = m
                .source()
                .as_ref()
                .ok_or_else(|| refuse("a bind mount needs a source"))?;
            let source = if source.is_absolute() {
                source.clone()
            } else {
                bundle.join(source)
            };
            let meta = std::fs::metadata(&source)
                .map_err(|e| refuse(&format!("source {}: {e}", source.display())))?;
            if !meta.is_dir() && !meta.is_file() {
                return Err(refuse(&format!(
                    "source {}: only directories and regular files can be bind mounted",
                    source.display()
                )));
            }
            out.push(MountSpec {
                destination: dest,
                kind: MountKind::Bind { source },
                readonly,
            });
        } else if PROVIDED.contains(&(typ, dest.as_str())) {
            continue;
        } else if typ == "tmpfs" {
            let mode = match options.iter().find_map(|o| o.strip_prefix("mode=")) {
                Some(m) => u32::from_str_radix(m, 8)
                    .ok()
                    .filter(|m| *m <= 0o7777)
                    .ok_or_else(|| refuse(&format!("mode={m} is not an octal mode")))?,
                None => 0o1777,
            };
            out.push(MountSpec {
                destination: dest,
                kind: MountKind::Tmpfs { mode },
                readonly,
            });
        } else {
            return Err(refuse(&format!(
                "{typ:?} mounts are not supported (bind and tmpfs are, and the sandbox's own \
                 /proc, /dev, /sys)"
            )));
        }
    }
    Ok(out)
}

/// `process.capabilities` as (effective, permitted) bit sets; `None` if absent (all for
/// root, none for other users).
pub fn capabilities(process: &oci_spec::runtime::Process) -> Result<Option<(u64, u64)>> {
    let Some(caps) = process.capabilities() else {
        return Ok(None);
    };
    let bits = |set: &Option<oci_spec::runtime::Capabilities>, name: &str| -> Result<u64> {
        let mut out = 0u64;
        for cap in set.iter().flatten() {
            let text = serde_json::to_value(cap)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let n = abi::caps::from_name(&text)
                .ok_or_else(|| format!("process.capabilities.{name}: unknown {text:?}"))?;
            out |= 1 << n;
        }
        Ok(out)
    };
    let permitted = bits(caps.permitted(), "permitted")?;
    let effective = bits(caps.effective(), "effective")? & permitted;
    Ok(Some((effective, permitted)))
}

/// The resources `process.rlimits` may name, in Linux's numbering.
const RLIMITS: &[&str] = &[
    "RLIMIT_CPU",
    "RLIMIT_FSIZE",
    "RLIMIT_DATA",
    "RLIMIT_STACK",
    "RLIMIT_CORE",
    "RLIMIT_RSS",
    "RLIMIT_NPROC",
    "RLIMIT_NOFILE",
    "RLIMIT_MEMLOCK",
    "RLIMIT_AS",
    "RLIMIT_LOCKS",
    "RLIMIT_SIGPENDING",
    "RLIMIT_MSGQUEUE",
    "RLIMIT_NICE",
    "RLIMIT_RTPRIO",
    "RLIMIT_RTTIME",
];

/// `process.rlimits` as (resource, soft, hard); a soft limit above the hard one is refused.
pub fn rlimits(process: &oci_spec::runtime::Process) -> Result<Vec<(u32, u64, u64)>> {
    let mut out = Vec::new();
    for (i, r) in process.rlimits().iter().flatten().enumerate() {
        let name = r.typ().to_string();
        let resource = RLIMITS
            .iter()
            .position(|n| *n == name)
            .ok_or_else(|| format!("process.rlimits[{i}]: unknown resource {name}"))?;
        if r.soft() > r.hard() {
            return Err(format!(
                "process.rlimits[{i}] ({name}): soft limit above the hard limit"
            ));
        }
        out.push((resource as u32, r.soft(), r.hard()));
    }
    Ok(out)
}

pub fn load(bundle: &Path) -> Result<Container> {
    if !bundle.is_dir() {
        return Err(format!("bundle {} is not a directory", bundle.display()));
    }
    let config = bundle.join("config.json");
    let spec = Spec::load(&config).map_err(|e| format!("{}: {e}", config.display()))?;
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| format!("{}: process is required", config.display()))?;
    let argv = process
        .args()
        .clone()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| format!("{}: process.args is required", config.display()))?;
    let user = process.user();
    let groups = user.additional_gids().clone().unwrap_or_default();
    let mut creds = Creds::user(user.uid(), user.gid(), groups);
    if let Some((effective, permitted)) = capabilities(process)? {
        creds.caps = effective;
        creds.permitted = permitted;
    }
    let umask = user.umask();
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| format!("{}: root is required", config.display()))?;
    let root_path = if root.path().is_absolute() {
        root.path().clone()
    } else {
        bundle.join(root.path())
    };
    let mounts = mounts(&spec, bundle)?;
    let hooks = spec.hooks().clone().unwrap_or_default();
    // These two run inside the container, where host programs cannot.
    if hooks
        .create_container()
        .as_ref()
        .is_some_and(|h| !h.is_empty())
    {
        return Err("hooks.createContainer: hooks inside the sandbox are not supported".into());
    }
    if hooks
        .start_container()
        .as_ref()
        .is_some_and(|h| !h.is_empty())
    {
        return Err("hooks.startContainer: hooks inside the sandbox are not supported".into());
    }
    let annotations = spec.annotations().clone().unwrap_or_default();
    let platform = match annotations.get(PLATFORM_ANNOTATION).map(String::as_str) {
        None => None,
        Some("kvm") => Some(PlatformChoice::Kvm),
        Some("ptrace") => Some(PlatformChoice::Ptrace),
        Some(other) => {
            return Err(format!(
                "annotations[{PLATFORM_ANNOTATION}]: {other:?} is not a platform (kvm, ptrace)"
            ));
        }
    };
    Ok(Container {
        root: root_path,
        argv,
        envp: process.env().clone().unwrap_or_default(),
        cwd: process.cwd().to_string_lossy().into_owned(),
        hostname: spec.hostname().clone(),
        readonly_root: root.readonly() == Some(true),
        mounts,
        user: creds,
        umask,
        hooks,
        rlimits: rlimits(process)?,
        preserve_fds: 0,
        terminal: process.terminal() == Some(true),
        console_size: process.console_size().as_ref().map(|b| {
            (
                u16::try_from(b.height()).unwrap_or(u16::MAX),
                u16::try_from(b.width()).unwrap_or(u16::MAX),
            )
        }),
        platform,
        annotations: serde_json::to_value(annotations).unwrap_or_default(),
    })
}
