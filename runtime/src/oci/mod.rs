//! The OCI runtime commands (runc's command line): `create` leaves a sandbox process waiting
//! on a FIFO in the container's state directory, `start` opens the FIFO to release it, the
//! sandbox then runs the program exactly as `ringfence do` does.

mod bundle;
mod console;
mod exec;
mod exec_server;
mod exec_wire;
mod hooks;
mod state;

use std::ffi::CString;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use liboci_cli::{CommonCmd, GlobalOpts, StandardCmd};
use serde_json::json;

use crate::run::run_options;
pub use state::Result;
use state::Saved;

fn root(global: &GlobalOpts) -> PathBuf {
    global
        .root
        .clone()
        .unwrap_or_else(|| PathBuf::from(state::DEFAULT_ROOT))
}

pub fn standard(global: &GlobalOpts, cmd: StandardCmd) -> Result<ExitCode> {
    let root = root(global);
    match cmd {
        StandardCmd::Create(c) => {
            create(
                &root,
                &c.container_id,
                &c.bundle,
                c.pid_file.as_deref(),
                c.console_socket.as_deref(),
                c.preserve_fds,
            )?;
            Ok(ExitCode::SUCCESS)
        }
        StandardCmd::Start(s) => start(&root, &s.container_id).map(|()| ExitCode::SUCCESS),
        StandardCmd::State(s) => {
            let saved = state::load(&root, &s.container_id)?;
            let text = serde_json::to_string_pretty(&state::state_json(&root, &saved))
                .map_err(|e| e.to_string())?;
            println!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        StandardCmd::Kill(k) => {
            let saved = state::load(&root, &k.container_id)?;
            let sig = parse_signal(&k.signal)?;
            if state::status(&root, &saved) == "stopped" {
                return Err(format!("container {:?} is not running", k.container_id));
            }
            send(saved.pid, sig)?;
            Ok(ExitCode::SUCCESS)
        }
        StandardCmd::Delete(d) => {
            delete(&root, &d.container_id, d.force).map(|()| ExitCode::SUCCESS)
        }
    }
}

pub fn common(global: &GlobalOpts, cmd: CommonCmd) -> Result<ExitCode> {
    let root = root(global);
    match cmd {
        CommonCmd::Run(r) => {
            let pid = create(
                &root,
                &r.container_id,
                &r.bundle,
                r.pid_file.as_deref(),
                r.console_socket.as_deref(),
                r.preserve_fds,
            )?;
            if let Err(e) = start(&root, &r.container_id) {
                let _ = delete(&root, &r.container_id, true);
                return Err(e);
            }
            if r.detach {
                return Ok(ExitCode::SUCCESS);
            }
            // The sandbox process is our child: its status is the container's.
            let code = wait_child(pid);
            if !r.keep {
                let _ = delete(&root, &r.container_id, true);
            }
            Ok(ExitCode::from(code))
        }
        CommonCmd::List(l) => {
            let rows: Vec<_> = state::ids(&root)
                .into_iter()
                .filter_map(|id| state::load(&root, &id).ok())
                .map(|s| state::state_json(&root, &s))
                .collect();
            if l.quiet {
                rows.iter()
                    .for_each(|r| println!("{}", r["id"].as_str().unwrap_or("")));
            } else if l.format == "json" {
                println!("{}", serde_json::Value::Array(rows));
            } else {
                println!("ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER");
                for r in rows {
                    println!(
                        "{}\t{}\t{}\t{}\t{}\troot",
                        r["id"].as_str().unwrap_or(""),
                        r["pid"],
                        r["status"].as_str().unwrap_or(""),
                        r["bundle"].as_str().unwrap_or(""),
                        r["created"].as_str().unwrap_or(""),
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        CommonCmd::Ps(p) => {
            let saved = state::load(&root, &p.container_id)?;
            let pids: Vec<i32> = if state::alive(saved.pid) {
                vec![saved.pid]
            } else {
                vec![]
            };
            if p.format == "json" {
                println!("{}", json!(pids));
            } else {
                println!("PID");
                pids.iter().for_each(|p| println!("{p}"));
            }
            Ok(ExitCode::SUCCESS)
        }
        CommonCmd::Spec(s) => {
            let dir = s.bundle.unwrap_or_else(|| PathBuf::from("."));
            let path = dir.join("config.json");
            if path.exists() {
                return Err(format!("{} already exists", path.display()));
            }
            let mut spec = oci_spec::runtime::Spec::default();
            if let Some(p) = spec.process_mut() {
                p.set_terminal(Some(false));
                p.set_args(Some(vec!["sh".into()]));
            }
            // The sandbox provides /proc, /dev and /tmp itself; nothing else is mounted.
            spec.set_mounts(None);
            spec.set_hostname(Some("ringfence".into()));
            if let Some(root) = spec.root_mut() {
                // Writes go to the sandbox's private layer; read-only roots are not done yet.
                root.set_readonly(Some(false));
            }
            let text = serde_json::to_string_pretty(&spec).map_err(|e| e.to_string())?;
            std::fs::write(&path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(ExitCode::SUCCESS)
        }
        CommonCmd::Features(_) => {
            let features = json!({
                "ociVersionMin": "1.0.0",
                "ociVersionMax": "1.2.0",
                "hooks": ["prestart", "createRuntime", "poststart", "poststop"],
                "mountOptions": [],
                "annotations": { bundle::PLATFORM_ANNOTATION: "kvm or ptrace" },
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&features).unwrap_or_default()
            );
            Ok(ExitCode::SUCCESS)
        }
        CommonCmd::Exec(e) => exec::exec(&root, &e),
        other => Err(format!("{}: not supported yet", command_name(&other))),
    }
}

fn command_name(cmd: &CommonCmd) -> &'static str {
    match cmd {
        CommonCmd::Exec(_) => "exec",
        CommonCmd::Pause(_) => "pause",
        CommonCmd::Resume(_) => "resume",
        CommonCmd::Update(_) => "update",
        CommonCmd::Events(_) => "events",
        CommonCmd::Checkpointt(_) => "checkpoint",
        _ => "this command",
    }
}

/// `create`: reserve the id, fork the sandbox process (which waits for `start`), save the
/// state. Returns the sandbox process's pid.
fn create(
    root: &Path,
    id: &str,
    bundle: &Path,
    pid_file: Option<&Path>,
    console_socket: Option<&Path>,
    preserve_fds: i32,
) -> Result<i32> {
    state::check_id(id)?;
    let bundle = std::path::absolute(bundle).map_err(|e| e.to_string())?;
    let mut container = bundle::load(&bundle)?;
    container.preserve_fds =
        u32::try_from(preserve_fds).map_err(|_| "--preserve-fds must not be negative")?;
    let pty = match (container.terminal, console_socket) {
        (true, Some(socket)) => {
            let pty = console::open(container.console_size)?;
            console::send_master(socket, &pty.master)?;
            Some(pty.slave)
        }
        (true, None) => {
            return Err("process.terminal needs --console-socket to hand the terminal to".into());
        }
        (false, Some(_)) => {
            return Err("--console-socket given but process.terminal is false".into());
        }
        (false, None) => None,
    };
    let dir = state::reserve(root, id)?;
    let created = (|| {
        let fifo = state::fifo(root, id);
        let path = CString::new(fifo.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
        // SAFETY: `path` is a valid C string; mkfifo only creates the node.
        if unsafe { libc::mkfifo(path.as_ptr(), 0o600) } != 0 {
            return Err(format!(
                "mkfifo {}: {}",
                fifo.display(),
                std::io::Error::last_os_error()
            ));
        }
        // SAFETY: `ringfence create` is single-threaded here (no sentry threads exist yet),
        // so the child may go on running Rust code after fork.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(format!("fork: {}", std::io::Error::last_os_error()));
        }
        if pid == 0 {
            std::process::exit(sandbox_process(&fifo, &dir, &container, pty.as_ref()));
        }
        let saved = Saved {
            id: id.to_string(),
            pid,
            bundle: bundle.clone(),
            annotations: container.annotations.clone(),
            created: rfc3339_now(),
        };
        let finish = || {
            state::save(root, &saved)?;
            let mut st = state::state_json(root, &saved);
            st["status"] = "creating".into();
            let h = &container.hooks;
            hooks::run("prestart", h.prestart().as_deref().unwrap_or_default(), &st)?;
            hooks::run(
                "createRuntime",
                h.create_runtime().as_deref().unwrap_or_default(),
                &st,
            )?;
            if let Some(p) = pid_file {
                std::fs::write(p, pid.to_string()).map_err(|e| format!("{}: {e}", p.display()))?;
            }
            Ok(pid)
        };
        let done = finish();
        if done.is_err() {
            // The sandbox process never runs the program: it is waiting for `start`.
            let _ = send(pid, libc::SIGKILL);
            // SAFETY: reaping our own child; a null status pointer is allowed.
            unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
        }
        done
    })();
    if created.is_err() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    created
}

/// The sandbox process: wait until `start` opens the FIFO, then run the container. Without
/// `--log`, the sentry's messages go to `sentry.log` in the state directory `dir`, not into
/// the container's stderr.
fn sandbox_process(
    fifo: &Path,
    dir: &Path,
    c: &bundle::Container,
    terminal: Option<&std::os::fd::OwnedFd>,
) -> i32 {
    crate::log::redirect_unless_file(&dir.join("sentry.log"));
    // Bound before the program starts, served once it runs (`ringfence exec`).
    let exec_socket = dir.join("exec.sock");
    let listener = std::os::unix::net::UnixListener::bind(&exec_socket)
        .inspect_err(|e| tracing::warn!("{}: {e}; exec will not work", exec_socket.display()))
        .ok();
    // SAFETY: setsid has no memory-safety preconditions; it detaches from the caller's
    // session so the container outlives `ringfence create`.
    unsafe { libc::setsid() };
    if let Some(slave) = terminal
        && let Err(e) = console::attach(slave)
    {
        eprintln!("ringfence: cannot attach the terminal: {e}");
        return 125;
    }
    let released = std::fs::File::open(fifo).and_then(|mut f| {
        let mut byte = [0u8; 1];
        f.read(&mut byte)
    });
    let _ = std::fs::remove_file(fifo);
    if !matches!(released, Ok(1)) {
        return 125;
    }
    let opts = sentry::sandbox::Options {
        root: c.root.clone(),
        argv: c.argv.clone(),
        envp: c.envp.clone(),
        cwd: c.cwd.clone(),
        hostname: c.hostname.clone(),
        readonly_root: c.readonly_root,
        mounts: c.mounts.clone(),
        user: c.user.clone(),
        umask: c.umask,
        rlimits: c.rlimits.clone(),
        preserve_fds: c.preserve_fds,
    };
    let on_start = Box::new(move |sandbox: sentry::sandbox::Signaller| {
        crate::run::forward_signals(sandbox.clone());
        if let Some(listener) = listener {
            exec_server::spawn(listener, sandbox);
        }
    });
    match run_options(c.platform, &opts, false, on_start) {
        Ok(code) => code.into(),
        Err(e) => {
            eprintln!("ringfence: {e}");
            crate::run::failure_code(e.as_ref()).into()
        }
    }
}

/// `start`: release the sandbox process.
fn start(root: &Path, id: &str) -> Result<()> {
    let saved = state::load(root, id)?;
    match state::status(root, &saved) {
        "created" => {}
        other => return Err(format!("container {id:?} is {other}, not created")),
    }
    let fifo = state::fifo(root, id);
    // The sandbox process may not be waiting on the FIFO yet (right after create): retry
    // while it lives.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut f = loop {
        match std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
        {
            Ok(f) => break f,
            Err(e)
                if e.raw_os_error() == Some(libc::ENXIO)
                    && state::alive(saved.pid)
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(format!("cannot start {id:?}: {e}")),
        }
    };
    std::io::Write::write_all(&mut f, b"0").map_err(|e| format!("cannot start {id:?}: {e}"))?;
    late_hooks(root, &saved, "poststart", "running");
    Ok(())
}

/// Runs the `poststart` or `poststop` hooks of the container's bundle, with `status` in the
/// state they get; failures are logged only, as the runtime spec says.
fn late_hooks(root: &Path, saved: &Saved, kind: &str, status: &str) {
    let Ok(c) = bundle::load(&saved.bundle) else {
        return;
    };
    let hooks = if kind == "poststart" {
        c.hooks.poststart()
    } else {
        c.hooks.poststop()
    };
    let hooks = hooks.clone().unwrap_or_default();
    if !hooks.is_empty() {
        let mut st = state::state_json(root, saved);
        st["status"] = status.into();
        hooks::run_logged(kind, &hooks, &st);
    }
}

fn delete(root: &Path, id: &str, force: bool) -> Result<()> {
    let saved = state::load(root, id)?;
    if state::status(root, &saved) != "stopped" {
        if !force {
            return Err(format!("container {id:?} is not stopped (use --force)"));
        }
        send(saved.pid, libc::SIGKILL)?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while state::alive(saved.pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    std::fs::remove_dir_all(state::dir(root, id))
        .map_err(|e| format!("cannot delete {id:?}: {e}"))?;
    late_hooks(root, &saved, "poststop", "stopped");
    Ok(())
}

fn send(pid: i32, sig: i32) -> Result<()> {
    // SAFETY: kill has no memory-safety preconditions.
    if unsafe { libc::kill(pid, sig) } != 0 {
        return Err(format!("kill {pid}: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// A signal by number, name or SIG-name (`15`, `TERM`, `SIGTERM`).
fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return if (1..=64).contains(&n) {
            Ok(n)
        } else {
            Err(format!("invalid signal {s:?}"))
        };
    }
    let name = s.strip_prefix("SIG").unwrap_or(s).to_ascii_uppercase();
    (1..=64)
        .find(|&n| abi::signal::name(n).is_some_and(|m| m.strip_prefix("SIG") == Some(&name)))
        .ok_or_else(|| format!("invalid signal {s:?}"))
}

fn wait_child(pid: i32) -> u8 {
    let mut status = 0;
    // SAFETY: waitpid writes one int through the valid pointer.
    let r = unsafe { libc::waitpid(pid, &mut status, 0) };
    if r != pid {
        return 125;
    }
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status) as u8
    } else {
        128u8.wrapping_add(libc::WTERMSIG(status) as u8)
    }
}

/// The current time in RFC 3339 (UTC).
fn rfc3339_now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}
