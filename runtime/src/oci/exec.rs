//! `ringfence exec`: start another process in a running container. The process runs in the
//! container's sandbox; this command (or, with `--detach`, a child of it whose pid goes to
//! `--pid-file`) stands for it on the host: it lends its standard streams, forwards the
//! signals it gets, and exits with the process's status.

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::ExitCode;

use liboci_cli::Exec;
use oci_spec::runtime::{Process, Spec};
use serde_json::{Value, json};

use super::exec_wire::{Reply, read_reply, send_request};
use super::state::{self, Result};

/// The exec socket of container `id`.
pub fn socket_path(root: &Path, id: &str) -> std::path::PathBuf {
    state::dir(root, id).join("exec.sock")
}

/// The request for `e`: from `--process`, else the container's own process with the
/// command line's arguments and changes.
fn request(root: &Path, e: &Exec) -> Result<Value> {
    if let Some(path) = &e.process {
        let text =
            std::fs::read_to_string(path).map_err(|err| format!("{}: {err}", path.display()))?;
        let p: Process =
            serde_json::from_str(&text).map_err(|err| format!("{}: {err}", path.display()))?;
        return Ok(json!({
            "terminal": p.terminal() == Some(true),
            "args": p.args().clone().unwrap_or_default(),
            "env": p.env().clone().unwrap_or_default(),
            "cwd": p.cwd(),
            "uid": p.user().uid(),
            "gid": p.user().gid(),
            "additional_gids": p.user().additional_gids().clone().unwrap_or_default(),
            "umask": p.user().umask(),
            "rlimits": super::bundle::rlimits(&p)?,
            "capabilities": super::bundle::capabilities(&p)?,
        }));
    }
    if e.command.is_empty() {
        return Err("exec needs a command or --process".into());
    }
    let saved = state::load(root, &e.container_id)?;
    let config = saved.bundle.join("config.json");
    let spec = Spec::load(&config).map_err(|err| format!("{}: {err}", config.display()))?;
    let base = spec.process().clone().unwrap_or_default();
    let mut env = base.env().clone().unwrap_or_default();
    for (k, v) in &e.env {
        env.retain(|kv| kv.split('=').next() != Some(k.as_str()));
        env.push(format!("{k}={v}"));
    }
    let (uid, gid) = match e.user {
        Some((u, g)) => (u, g.unwrap_or(0)),
        None => (base.user().uid(), base.user().gid()),
    };
    let groups = if e.additional_gids.is_empty() && e.user.is_none() {
        base.user().additional_gids().clone().unwrap_or_default()
    } else {
        e.additional_gids.clone()
    };
    let cwd = e.cwd.clone().unwrap_or_else(|| base.cwd().clone());
    Ok(json!({
        "args": e.command,
        "env": env,
        "cwd": cwd,
        "uid": uid,
        "gid": gid,
        "additional_gids": groups,
        "umask": base.user().umask(),
        "rlimits": super::bundle::rlimits(&base)?,
        "capabilities": if uid == 0 { super::bundle::capabilities(&base)? } else { None },
    }))
}

pub fn exec(root: &Path, e: &Exec) -> Result<ExitCode> {
    if e.preserve_fds != 0 {
        return Err("--preserve-fds: exec passes only the standard streams".into());
    }
    let request = request(root, e)?;
    let tty = e.tty || request["terminal"] == true;
    let pty = match (tty, &e.console_socket) {
        (true, Some(socket)) => {
            let pty = super::console::open(None)?;
            super::console::send_master(socket, &pty.master)?;
            Some(pty.slave)
        }
        (true, None) => return Err("--tty needs --console-socket to hand the terminal to".into()),
        (false, Some(_)) => return Err("--console-socket given without --tty".into()),
        (false, None) => None,
    };
    let saved = state::load(root, &e.container_id)?;
    if state::status(root, &saved) != "running" {
        return Err(format!("container {:?} is not running", e.container_id));
    }
    let path = socket_path(root, &e.container_id);
    let sock = UnixStream::connect(&path).map_err(|err| format!("{}: {err}", path.display()))?;
    if !e.detach {
        if let Some(p) = &e.pid_file {
            write_pid(p, std::process::id() as i32)?;
        }
        if let Some(slave) = &pty {
            // SAFETY: setsid has no memory-safety preconditions; the terminal needs a session.
            unsafe { libc::setsid() };
            super::console::attach(slave).map_err(|err| format!("terminal: {err}"))?;
        }
        let status = run(&sock, &request, None)?;
        return Ok(ExitCode::from(status));
    }
    // Detached: a child stands for the process; this command returns once it has started.
    let (ready_r, ready_w) = std::io::pipe().map_err(|err| format!("pipe: {err}"))?;
    // SAFETY: `ringfence exec` has no other threads, so the child may go on running Rust.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        drop(ready_r);
        // SAFETY: setsid has no memory-safety preconditions.
        unsafe { libc::setsid() };
        // The terminal's signals (^C) come to this process, which forwards them.
        if let Some(slave) = &pty
            && super::console::attach(slave).is_err()
        {
            std::process::exit(1);
        }
        let code = run(&sock, &request, Some(ready_w)).unwrap_or(1);
        std::process::exit(code.into());
    }
    drop(ready_w);
    drop(sock);
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut { ready_r }, &mut answer)
        .map_err(|err| format!("exec: {err}"))?;
    if answer != "ok" {
        return Err(if answer.is_empty() {
            "exec: the process did not start".into()
        } else {
            answer
        });
    }
    if let Some(p) = &e.pid_file {
        write_pid(p, pid)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn write_pid(path: &Path, pid: i32) -> Result<()> {
    std::fs::write(path, pid.to_string()).map_err(|err| format!("{}: {err}", path.display()))
}

/// Sends the request with our standard streams, reports the start on `ready` (if any), then
/// forwards signals until the process ends; its status as a shell reports it.
fn run(sock: &UnixStream, request: &Value, ready: Option<std::io::PipeWriter>) -> Result<u8> {
    let stdio = [
        std::io::stdin().as_raw_fd(),
        std::io::stdout().as_raw_fd(),
        std::io::stderr().as_raw_fd(),
    ];
    send_request(sock, request, stdio).map_err(|err| format!("exec: {err}"))?;
    let started = read_reply(sock).map_err(|err| format!("exec: {err}"));
    let report = |msg: &str| {
        if let Some(mut w) = ready.as_ref() {
            let _ = std::io::Write::write_all(&mut w, msg.as_bytes());
        }
    };
    match started {
        Ok(Reply::Started(_)) => report("ok"),
        Ok(Reply::Failed(msg)) => {
            report(&msg);
            return Err(msg);
        }
        Ok(other) => {
            let msg = format!("exec: unexpected reply {other:?}");
            report(&msg);
            return Err(msg);
        }
        Err(msg) => {
            report(&msg);
            return Err(msg);
        }
    }
    drop(ready);
    forward_signals(sock);
    Ok(match read_reply(sock) {
        Ok(Reply::Exited(code)) => (code & 0xff) as u8,
        Ok(Reply::Killed(sig)) => (128 + sig) as u8,
        // The sandbox ended, which kills everything in it.
        _ => 128 + libc::SIGKILL as u8,
    })
}

/// Signals this process gets go to the exec'd process.
fn forward_signals(sock: &UnixStream) {
    use signal_hook::consts::*;
    let (Ok(mut out), Ok(mut signals)) = (
        sock.try_clone(),
        signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2]),
    ) else {
        tracing::warn!("signals to ringfence exec will not be forwarded");
        return;
    };
    let _ = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                if std::io::Write::write_all(&mut out, &sig.to_le_bytes()).is_err() {
                    break;
                }
            }
        });
}
