//! Container state under `--root` (default /run/ringfence): one directory per container
//! holding `state.json` and, until `start`, the FIFO the sandbox process waits on.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

pub type Result<T> = std::result::Result<T, String>;

pub const DEFAULT_ROOT: &str = "/run/ringfence";

/// What is saved of a container.
pub struct Saved {
    pub id: String,
    pub pid: i32,
    pub bundle: PathBuf,
    pub annotations: Value,
    pub created: String,
}

/// Container ids as runc accepts them: no path separators, no `.`/`..`.
pub fn check_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id.len() <= 1024
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.+".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!("invalid container id {id:?}"))
    }
}

pub fn dir(root: &Path, id: &str) -> PathBuf {
    root.join(id)
}

pub fn fifo(root: &Path, id: &str) -> PathBuf {
    dir(root, id).join("exec.fifo")
}

/// Reserve `id` (atomically: a concurrent create of the same id fails).
pub fn reserve(root: &Path, id: &str) -> Result<PathBuf> {
    check_id(id)?;
    fs::create_dir_all(root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;
    let d = dir(root, id);
    match fs::create_dir(&d) {
        Ok(()) => Ok(d),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            Err(format!("container {id:?} already exists"))
        }
        Err(e) => Err(format!("cannot create {}: {e}", d.display())),
    }
}

pub fn save(root: &Path, s: &Saved) -> Result<()> {
    let v = json!({
        "id": s.id,
        "pid": s.pid,
        "bundle": s.bundle,
        "annotations": s.annotations,
        "created": s.created,
    });
    let path = dir(root, &s.id).join("state.json");
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, v.to_string()).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    fs::rename(&tmp, &path).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

pub fn load(root: &Path, id: &str) -> Result<Saved> {
    check_id(id)?;
    let path = dir(root, id).join("state.json");
    let text = fs::read_to_string(&path).map_err(|e| {
        if e.kind() == ErrorKind::NotFound {
            format!("container {id:?} does not exist")
        } else {
            format!("cannot read {}: {e}", path.display())
        }
    })?;
    let v: Value =
        serde_json::from_str(&text).map_err(|e| format!("corrupt {}: {e}", path.display()))?;
    Ok(Saved {
        id: id.to_string(),
        pid: v["pid"].as_i64().unwrap_or(0) as i32,
        bundle: PathBuf::from(v["bundle"].as_str().unwrap_or("")),
        annotations: v["annotations"].clone(),
        created: v["created"].as_str().unwrap_or("").to_string(),
    })
}

/// Whether `pid` is a live (not zombie) process.
pub fn alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            // The state follows the parenthesised command name.
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().next());
            !matches!(state, Some("Z") | Some("X"))
        }
        Err(_) => false,
    }
}

/// The runtime-spec status.
pub fn status(root: &Path, s: &Saved) -> &'static str {
    if !alive(s.pid) {
        "stopped"
    } else if fifo(root, &s.id).exists() {
        "created"
    } else {
        "running"
    }
}

/// The state JSON `ringfence state` prints.
pub fn state_json(root: &Path, s: &Saved) -> Value {
    let status = status(root, s);
    json!({
        "ociVersion": "1.2.0",
        "id": s.id,
        "status": status,
        "pid": if status == "stopped" { 0 } else { s.pid },
        "bundle": s.bundle,
        "annotations": s.annotations,
        "created": s.created,
        "owner": "",
    })
}

pub fn ids(root: &Path) -> Vec<String> {
    let mut ids: Vec<String> = fs::read_dir(root)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.path().join("state.json").exists())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}
