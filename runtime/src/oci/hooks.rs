//! Hooks from `config.json`, run on the host with the container's state on stdin:
//! `prestart` and `createRuntime` at the end of `create` (a failure fails the create),
//! `poststart` after `start` and `poststop` at `delete` (a failure is only logged), as the
//! runtime spec says.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::Hook;
use serde_json::Value;

use super::state::Result;

/// Runs `hooks` (named `kind` in messages) in order with `state` on stdin; the first one
/// that fails, times out or cannot start ends the run with an error naming it.
pub fn run(kind: &str, hooks: &[Hook], state: &Value) -> Result<()> {
    for (i, hook) in hooks.iter().enumerate() {
        let name = format!("hooks.{kind}[{i}] ({})", hook.path().display());
        run_one(hook, state).map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(())
}

/// Runs `hooks` and logs a failure instead of returning it.
pub fn run_logged(kind: &str, hooks: &[Hook], state: &Value) {
    if let Err(e) = run(kind, hooks, state) {
        tracing::warn!("{e}");
    }
}

fn run_one(hook: &Hook, state: &Value) -> std::result::Result<(), String> {
    let mut cmd = Command::new(hook.path());
    if let Some(args) = hook.args()
        && let Some((arg0, rest)) = args.split_first()
    {
        cmd.arg0(arg0).args(rest);
    }
    cmd.env_clear();
    for kv in hook.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook may exit without reading its input.
        let _ = stdin.write_all(state.to_string().as_bytes());
    }
    let deadline = hook
        .timeout()
        .and_then(|t| u64::try_from(t).ok())
        .filter(|t| *t > 0)
        .map(|t| (t, Instant::now() + Duration::from_secs(t)));
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return if status.success() {
                Ok(())
            } else {
                Err(format!("failed ({status})"))
            };
        }
        if let Some((secs, at)) = deadline
            && Instant::now() >= at
        {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("timed out after {secs} s"));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
