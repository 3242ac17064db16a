//! A bundle's `config.json` turned into what `ringfence do` runs; fields the sandbox cannot
//! honour yet are refused by name rather than ignored.

use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

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
    pub platform: Option<PlatformChoice>,
    pub annotations: serde_json::Value,
}

/// Mount destinations the sandbox provides itself (its own /proc, /dev, /tmp…), so a config
/// asking for them is satisfied.
const PROVIDED: &[&str] = &[
    "/proc",
    "/dev",
    "/dev/pts",
    "/dev/shm",
    "/dev/mqueue",
    "/sys",
    "/sys/fs/cgroup",
    "/tmp",
    "/run",
];

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
    if process.terminal() == Some(true) {
        return Err("process.terminal: terminals are not supported yet".into());
    }
    let user = process.user();
    if user.uid() != 0 || user.gid() != 0 {
        return Err("process.user: only uid 0 and gid 0 are supported yet".into());
    }
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| format!("{}: root is required", config.display()))?;
    if root.readonly() == Some(true) {
        return Err("root.readonly: read-only roots are not supported yet".into());
    }
    let root_path = if root.path().is_absolute() {
        root.path().clone()
    } else {
        bundle.join(root.path())
    };
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let dest = m.destination().to_string_lossy();
        // A bind mount brings host files in: over a provided path it is not satisfied either.
        let bind = m.typ().as_deref() == Some("bind")
            || m.options()
                .iter()
                .flatten()
                .any(|o| o == "bind" || o == "rbind");
        if bind || !PROVIDED.contains(&dest.as_ref()) {
            return Err(format!(
                "mounts[{i}] ({dest}): mounts other than the sandbox's own /proc, /dev, /sys and \
                 /tmp are not supported yet"
            ));
        }
    }
    if spec.hooks().is_some() {
        return Err("hooks: hooks are not supported yet".into());
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
        platform,
        annotations: serde_json::to_value(annotations).unwrap_or_default(),
    })
}
