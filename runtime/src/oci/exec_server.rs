//! The sandbox process's side of `ringfence exec`: each connection on the exec socket starts
//! one process in the running sandbox with the client's standard streams, forwards the
//! client's signals to it, and reports its end.

use std::io::Read;
use std::os::unix::net::{UnixListener, UnixStream};

use sentry::sandbox::{ExecRequest, Signaller};
use sentry::task::ExitStatus;
use sentry::vfs::Creds;
use serde_json::Value;

use super::exec_wire::{Reply, recv_request, write_reply};

/// Serves `listener` on a thread of its own for as long as the sandbox runs.
pub fn spawn(listener: UnixListener, sandbox: Signaller) {
    let started = std::thread::Builder::new()
        .name("exec-server".into())
        .spawn(move || {
            for conn in listener.incoming().flatten() {
                let sandbox = sandbox.clone();
                let _ = std::thread::Builder::new()
                    .name("exec".into())
                    .spawn(move || serve(&conn, &sandbox));
            }
        });
    if let Err(e) = started {
        tracing::warn!("cannot serve exec requests: {e}");
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn id(v: &Value) -> u32 {
    v.as_u64().and_then(|n| u32::try_from(n).ok()).unwrap_or(0)
}

fn serve(conn: &UnixStream, sandbox: &Signaller) {
    let (request, stdio) = match recv_request(conn) {
        Ok(r) => r,
        Err(e) => {
            let _ = write_reply(conn, &Reply::Failed(format!("bad exec request: {e}")));
            return;
        }
    };
    let groups = request["additional_gids"]
        .as_array()
        .map(|a| a.iter().map(id).collect())
        .unwrap_or_default();
    let mut user = Creds::user(id(&request["uid"]), id(&request["gid"]), groups);
    if let (Some(effective), Some(permitted)) = (
        request["capabilities"][0].as_u64(),
        request["capabilities"][1].as_u64(),
    ) {
        user.caps = effective;
        user.permitted = permitted;
    }
    let req = ExecRequest {
        argv: strings(&request["args"]),
        envp: strings(&request["env"]),
        cwd: request["cwd"].as_str().unwrap_or("/").to_string(),
        user,
        umask: request["umask"].as_u64().map(|m| (m & 0o777) as u32),
        rlimits: request["rlimits"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| Some((id(&r[0]), r[1].as_u64()?, r[2].as_u64()?)))
                    .collect()
            })
            .unwrap_or_default(),
        stdio,
    };
    let execution = match sandbox.exec(req) {
        Ok(e) => e,
        Err(e) => {
            let _ = write_reply(conn, &Reply::Failed(e.to_string()));
            return;
        }
    };
    let pid = execution.pid;
    if write_reply(conn, &Reply::Started(pid)).is_err() {
        return;
    }
    // Signals from the client until it hangs up.
    if let Ok(mut reader) = conn.try_clone() {
        let sandbox = sandbox.clone();
        let _ = std::thread::Builder::new()
            .name("exec-signals".into())
            .spawn(move || {
                let mut word = [0u8; 4];
                while reader.read_exact(&mut word).is_ok() {
                    sandbox.send_to(pid, i32::from_le_bytes(word));
                }
            });
    }
    let reply = match execution.done.join() {
        Ok(ExitStatus::Exited(code)) => Reply::Exited(code),
        Ok(ExitStatus::Signaled(sig)) => Reply::Killed(sig),
        Err(_) => Reply::Killed(libc::SIGKILL),
    };
    let _ = write_reply(conn, &reply);
}
