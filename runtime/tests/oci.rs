//! The OCI lifecycle, driving the binary over a bundle built at test time: busybox-static
//! and a compiled static C program in the root file system.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use ringfence_tests::fixture_dir;
use serde_json::Value;

fn ringfence(state: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ringfence"))
        .arg("--root")
        .arg(state)
        .args(args)
        .output()
        .expect("ringfence runs")
}

/// A bundle whose root holds busybox and a static hello, with `args` as the process.
fn bundle(name: &str, args: &[&str]) -> Option<PathBuf> {
    let busybox = Path::new("/bin/busybox");
    if !busybox.exists() {
        eprintln!("skipping: /bin/busybox is missing (Debian's busybox-static)");
        return None;
    }
    let dir = fixture_dir().join(format!("bundle-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let bin = dir.join("rootfs/bin");
    std::fs::create_dir_all(&bin).expect("rootfs");
    std::fs::copy(busybox, bin.join("busybox")).expect("busybox");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/hello.c");
    let ok = Command::new("gcc")
        .args(["-O2", "-static", "-o"])
        .arg(bin.join("hello"))
        .arg(&src)
        .status()
        .expect("gcc runs")
        .success();
    assert!(ok, "gcc failed");
    let platform = if Path::new("/dev/kvm").exists() {
        "kvm"
    } else {
        "ptrace"
    };
    let config = serde_json::json!({
        "ociVersion": "1.0.2",
        "process": { "terminal": false, "user": { "uid": 0, "gid": 0 }, "args": args,
                     "env": ["PATH=/bin", "GREETING=hi"], "cwd": "/" },
        "root": { "path": "rootfs", "readonly": false },
        "hostname": "boxy",
        "mounts": [ { "destination": "/proc", "type": "proc", "source": "proc" } ],
        "annotations": { "dev.ringfence.platform": platform, "org.example": "yes" },
    });
    std::fs::write(dir.join("config.json"), config.to_string()).expect("config");
    Some(dir)
}

/// `create`, with the container's stdio going to files: the container keeps the standard
/// streams it is given, so pipes captured by `output()` would stay open until it exits.
fn create(state: &Path, bundle: &Path, id: &str, extra: &[&str]) -> (bool, String) {
    let err = bundle.join(format!("{id}.stderr"));
    let status = Command::new(env!("CARGO_BIN_EXE_ringfence"))
        .arg("--root")
        .arg(state)
        .args(["create", "--bundle"])
        .arg(bundle)
        .args(extra)
        .arg(id)
        .stdout(std::fs::File::create(bundle.join(format!("{id}.stdout"))).expect("stdout file"))
        .stderr(std::fs::File::create(&err).expect("stderr file"))
        .status()
        .expect("ringfence runs");
    (
        status.success(),
        std::fs::read_to_string(&err).unwrap_or_default(),
    )
}

fn state_of(state: &Path, id: &str) -> Value {
    let out = ringfence(state, &["state", id]);
    assert!(
        out.status.success(),
        "state: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("state is JSON")
}

fn wait_status(state: &Path, id: &str, want: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = state_of(state, id);
        if s["status"] == want || Instant::now() > deadline {
            return s;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn lifecycle_create_start_kill_delete() {
    let Some(bundle) = bundle(
        "life",
        &[
            "/bin/busybox",
            "sh",
            "-c",
            "echo started; exec /bin/busybox sleep 60",
        ],
    ) else {
        return;
    };
    let state = fixture_dir().join(format!("state-life-{}", std::process::id()));
    let id = "life";
    let b = bundle.to_str().expect("utf-8 path");
    let pid_file = bundle.join("pid");
    let (ok, stderr) = create(
        &state,
        &bundle,
        id,
        &["--pid-file", pid_file.to_str().unwrap_or("")],
    );
    assert!(ok, "create: {stderr}");

    let s = state_of(&state, id);
    assert_eq!(s["ociVersion"], "1.2.0");
    assert_eq!(s["id"], id);
    assert_eq!(s["status"], "created");
    assert_eq!(s["bundle"], b);
    assert_eq!(s["annotations"]["org.example"], "yes");
    let pid = s["pid"].as_i64().expect("pid");
    assert!(pid > 0);
    assert_eq!(
        std::fs::read_to_string(&pid_file).expect("pid file"),
        pid.to_string()
    );

    let out = ringfence(&state, &["start", id]);
    assert!(
        out.status.success(),
        "start: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = wait_status(&state, id, "running");
    assert_eq!(s["status"], "running");
    assert_eq!(s["pid"].as_i64(), Some(pid));
    let out = ringfence(&state, &["start", id]);
    assert!(!out.status.success(), "a second start fails");

    let list = ringfence(&state, &["list", "--format", "json"]);
    let list: Value = serde_json::from_slice(&list.stdout).expect("list is JSON");
    assert_eq!(list[0]["id"], id);

    let out = ringfence(&state, &["delete", id]);
    assert!(
        !out.status.success(),
        "delete of a running container needs --force"
    );

    let out = ringfence(&state, &["kill", id, "SIGTERM"]);
    assert!(
        out.status.success(),
        "kill: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = wait_status(&state, id, "stopped");
    assert_eq!(s["status"], "stopped");
    assert_eq!(s["pid"], 0);

    let out = ringfence(&state, &["delete", id]);
    assert!(
        out.status.success(),
        "delete: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!state.join(id).exists(), "no state is left");
    let out = ringfence(&state, &["state", id]);
    assert!(!out.status.success());
    let _ = std::fs::remove_dir_all(&bundle);
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn exec_starts_processes_in_a_running_container() {
    let Some(bundle) = bundle(
        "exec",
        &[
            "/bin/busybox",
            "sh",
            "-c",
            "echo first > /tmp/first; exec /bin/busybox sleep 60",
        ],
    ) else {
        return;
    };
    let state = fixture_dir().join(format!("state-exec-{}", std::process::id()));
    let id = "ex";
    let (ok, stderr) = create(&state, &bundle, id, &[]);
    assert!(ok, "create: {stderr}");
    let out = ringfence(&state, &["exec", id, "/bin/busybox", "true"]);
    assert!(!out.status.success(), "exec needs a running container");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not running"));
    assert!(ringfence(&state, &["start", id]).status.success());
    wait_status(&state, id, "running");

    // The exec'd process shares the sandbox: it sees the first process's files and
    // processes; output, environment, working directory and exit code come back.
    let deadline = Instant::now() + Duration::from_secs(10);
    let out = loop {
        let out = ringfence(
            &state,
            &[
                "exec",
                "--env",
                "EXTRA=more",
                "--cwd",
                "/tmp",
                id,
                "/bin/busybox",
                "sh",
                "-c",
                "cat first; echo $GREETING $EXTRA; pwd; /bin/hello; exit 5",
            ],
        );
        if out.status.code() == Some(5) || Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "first\nhi more\n/tmp\nhello from nobody with 0 argument(s)\n",
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(5));
    let out = ringfence(
        &state,
        &["exec", "--user", "1000:1000", id, "/bin/busybox", "id"],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "uid=1000 gid=1000\n");

    // A program that does not exist, a working directory that does not exist.
    let out = ringfence(&state, &["exec", id, "/bin/nosuch"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/bin/nosuch: ENOENT"));
    let out = ringfence(
        &state,
        &["exec", "--cwd", "/nowhere", id, "/bin/busybox", "true"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nowhere"));

    // Detached: the pid file names the host process standing for it, which exits with it.
    let pid_file = bundle.join("exec.pid");
    let out = ringfence(
        &state,
        &[
            "exec",
            "--detach",
            "--pid-file",
            pid_file.to_str().unwrap_or(""),
            id,
            "/bin/busybox",
            "sh",
            "-c",
            "echo later > /tmp/later",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .expect("pid file")
        .trim()
        .parse()
        .expect("a pid");
    let deadline = Instant::now() + Duration::from_secs(10);
    // SAFETY: kill with signal 0 only checks that the process exists.
    while unsafe { libc::kill(pid, 0) } == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = ringfence(&state, &["exec", id, "/bin/busybox", "cat", "/tmp/later"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "later\n");

    // Signals to the exec command reach the process.
    let mut child = Command::new(env!("CARGO_BIN_EXE_ringfence"))
        .arg("--root")
        .arg(&state)
        .args(["exec", id, "/bin/busybox", "sleep", "60"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("exec runs");
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: plain kill of our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().expect("exec ends");
    assert_eq!(status.code(), Some(143), "128 + SIGTERM");

    assert!(
        ringfence(&state, &["delete", "--force", id])
            .status
            .success()
    );
    let _ = std::fs::remove_dir_all(&bundle);
    let _ = std::fs::remove_dir_all(&state);
}

/// A hook that saves its stdin (the container's state) to `file`.
fn saving_hook(file: &Path) -> Value {
    serde_json::json!({
        "path": "/bin/sh",
        "args": ["sh", "-c", format!("cat > {}", file.display())],
        "env": ["PATH=/usr/bin:/bin"],
    })
}

#[test]
fn hooks_run_on_the_host_with_the_state() {
    let Some(bundle) = bundle("hooks", &["/bin/busybox", "true"]) else {
        return;
    };
    let state = fixture_dir().join(format!("state-hooks-{}", std::process::id()));
    let config = bundle.join("config.json");
    let original: Value =
        serde_json::from_slice(&std::fs::read(&config).expect("config")).expect("JSON");
    let saved = |kind: &str| bundle.join(format!("{kind}.state"));
    let mut spec = original.clone();
    spec["hooks"] = serde_json::json!({
        "prestart": [saving_hook(&saved("prestart"))],
        "createRuntime": [saving_hook(&saved("createRuntime"))],
        "poststart": [saving_hook(&saved("poststart"))],
        "poststop": [saving_hook(&saved("poststop"))],
    });
    std::fs::write(&config, spec.to_string()).expect("config");
    let out = ringfence(
        &state,
        &["run", "--bundle", bundle.to_str().unwrap_or(""), "h1"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (kind, status) in [
        ("prestart", "creating"),
        ("createRuntime", "creating"),
        ("poststart", "running"),
        ("poststop", "stopped"),
    ] {
        let text = std::fs::read_to_string(saved(kind)).unwrap_or_default();
        let st: Value = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(st["id"], "h1", "{kind}: {text:?}");
        assert_eq!(st["status"], status, "{kind}");
        // The spec wants a pid while the container is created or running.
        if status != "stopped" {
            assert!(st["pid"].as_i64().is_some_and(|p| p > 0), "{kind}");
        }
    }

    // A failing createRuntime hook fails the create and leaves nothing; one that does not
    // finish in its timeout is killed and fails it too.
    for (hook, wanted) in [
        (
            serde_json::json!({ "path": "/bin/false" }),
            "hooks.createRuntime[0] (/bin/false): failed",
        ),
        (
            serde_json::json!({ "path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1 }),
            "hooks.createRuntime[0] (/bin/sleep): timed out after 1 s",
        ),
    ] {
        let mut spec = original.clone();
        spec["hooks"] = serde_json::json!({ "createRuntime": [hook] });
        std::fs::write(&config, spec.to_string()).expect("config");
        let started = Instant::now();
        let (ok, stderr) = create(&state, &bundle, "h2", &[]);
        assert!(!ok && stderr.contains(wanted), "{stderr}");
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(ringfence_state_empty(&state), "nothing is left");
    }
    let mut spec = original;
    spec["hooks"] = serde_json::json!({ "startContainer": [{ "path": "/bin/true" }] });
    std::fs::write(&config, spec.to_string()).expect("config");
    let (ok, stderr) = create(&state, &bundle, "h3", &[]);
    assert!(!ok && stderr.contains("hooks.startContainer"), "{stderr}");
    let _ = std::fs::remove_dir_all(&bundle);
    let _ = std::fs::remove_dir_all(&state);
}

/// Accepts one connection on `listener` and receives the descriptor sent with it.
fn receive_fd(listener: &std::os::unix::net::UnixListener) -> std::os::fd::OwnedFd {
    use std::os::fd::{AsRawFd, FromRawFd};
    let (conn, _) = listener.accept().expect("console socket connection");
    let mut data = [0u8; 64];
    let mut iov = [std::io::IoSliceMut::new(&mut data)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = nix::sys::socket::recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        nix::sys::socket::MsgFlags::empty(),
    )
    .expect("recvmsg");
    for c in msg.cmsgs().expect("cmsgs") {
        if let nix::sys::socket::ControlMessageOwned::ScmRights(fds) = c {
            // SAFETY: the kernel installed this descriptor for us.
            return unsafe { std::os::fd::OwnedFd::from_raw_fd(fds[0]) };
        }
    }
    panic!("no descriptor on the console socket");
}

#[test]
fn a_terminal_goes_to_the_console_socket() {
    let script = "[ -t 0 ] && echo tty0; [ -t 1 ] && echo tty1; /bin/busybox stty size";
    let Some(bundle) = bundle("tty", &["/bin/busybox", "sh", "-c", script]) else {
        return;
    };
    let config = bundle.join("config.json");
    let mut spec: Value =
        serde_json::from_slice(&std::fs::read(&config).expect("config")).expect("JSON");
    spec["process"]["terminal"] = true.into();
    spec["process"]["consoleSize"] = serde_json::json!({ "height": 24, "width": 80 });
    std::fs::write(&config, spec.to_string()).expect("config");
    let state = fixture_dir().join(format!("state-tty-{}", std::process::id()));
    let b = bundle.to_str().unwrap_or("");
    let out = ringfence(&state, &["create", "--bundle", b, "t0"]);
    assert!(!out.status.success(), "a terminal needs a console socket");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--console-socket"));

    let socket = bundle.join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket).expect("bind");
    let receiver = std::thread::spawn(move || receive_fd(&listener));
    let (ok, stderr) = create(
        &state,
        &bundle,
        "t1",
        &["--console-socket", socket.to_str().unwrap_or("")],
    );
    assert!(ok, "create: {stderr}");
    let master = receiver.join().expect("console received");
    assert!(ringfence(&state, &["start", "t1"]).status.success());
    // Read the terminal until the container closes its side (EIO on Linux).
    let mut output = Vec::new();
    let mut terminal = std::fs::File::from(master);
    let mut buf = [0u8; 256];
    while let Ok(n) = std::io::Read::read(&mut terminal, &mut buf) {
        if n == 0 {
            break;
        }
        output.extend_from_slice(&buf[..n]);
    }
    assert_eq!(
        String::from_utf8_lossy(&output),
        "tty0\r\ntty1\r\n24 80\r\n"
    );
    wait_status(&state, "t1", "stopped");
    assert!(ringfence(&state, &["delete", "t1"]).status.success());
    let _ = std::fs::remove_dir_all(&bundle);
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn preserved_descriptors_reach_the_program() {
    let Some(bundle) = bundle(
        "fds",
        &[
            "/bin/busybox",
            "sh",
            "-c",
            "echo through fd 3 >&3; read line <&4; echo got $line",
        ],
    ) else {
        return;
    };
    let state = fixture_dir().join(format!("state-fds-{}", std::process::id()));
    let out_file = bundle.join("fd3.out");
    let in_file = bundle.join("fd4.in");
    std::fs::write(&in_file, "input line\n").expect("input");
    // The shell opens 3 for writing and 4 for reading, then becomes ringfence.
    let out = Command::new("/bin/sh")
        .arg("-c")
        .arg("exec 3>\"$0\" 4<\"$1\"; exec \"$2\" --root \"$3\" run --preserve-fds 2 --bundle \"$4\" f1")
        .arg(&out_file)
        .arg(&in_file)
        .arg(env!("CARGO_BIN_EXE_ringfence"))
        .arg(&state)
        .arg(&bundle)
        .output()
        .expect("sh runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "got input line\n");
    assert_eq!(
        std::fs::read_to_string(&out_file).ok().as_deref(),
        Some("through fd 3\n")
    );
    let _ = std::fs::remove_dir_all(&bundle);
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn run_propagates_output_environment_hostname_and_exit_code() {
    let script = "echo $GREETING from $(/bin/busybox uname -n); /bin/hello; exit 7";
    let Some(bundle) = bundle("run", &["/bin/busybox", "sh", "-c", script]) else {
        return;
    };
    let state = fixture_dir().join(format!("state-run-{}", std::process::id()));
    let out = ringfence(
        &state,
        &["run", "--bundle", bundle.to_str().unwrap_or(""), "r1"],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hi from boxy\nhello from nobody with 0 argument(s)\n"
    );
    assert_eq!(
        out.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !state.join("r1").exists(),
        "run without --keep leaves no state"
    );
    let _ = std::fs::remove_dir_all(&bundle);
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn mounts_bind_host_paths_and_read_only_holds() {
    let script = "cat /data/in.txt /etc/motd; echo out > /data/out.txt; \
                  echo x > /etc/motd || echo motd refused; echo x > /etc/new || echo etc refused; \
                  echo x > /ro/in.txt || echo ro refused; echo y > /scratch/y && echo scratch ok; \
                  /bin/busybox awk '{ print $2, substr($4, 1, 2) }' /proc/mounts";
    let Some(bundle) = bundle("mounts", &["/bin/busybox", "sh", "-c", script]) else {
        return;
    };
    let host = bundle.join("shared");
    std::fs::create_dir_all(&host).expect("shared dir");
    std::fs::write(host.join("in.txt"), "shared in\n").expect("in.txt");
    let motd = bundle.join("motd");
    std::fs::write(&motd, "message of the day\n").expect("motd");
    let config = bundle.join("config.json");
    let mut spec: Value =
        serde_json::from_slice(&std::fs::read(&config).expect("config")).expect("JSON");
    spec["root"]["readonly"] = true.into();
    spec["mounts"] = serde_json::json!([
        { "destination": "/proc", "type": "proc", "source": "proc" },
        { "destination": "/data", "type": "bind", "source": host, "options": ["rbind", "rw"] },
        { "destination": "/ro", "type": "bind", "source": host, "options": ["rbind", "ro"] },
        { "destination": "/etc/motd", "type": "bind", "source": "motd", "options": ["bind", "ro"] },
        { "destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["mode=1777"] },
    ]);
    std::fs::write(&config, spec.to_string()).expect("config");
    let state = fixture_dir().join(format!("state-mounts-{}", std::process::id()));
    let out = ringfence(
        &state,
        &["run", "--bundle", bundle.to_str().unwrap_or(""), "m1"],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "shared in\nmessage of the day\nmotd refused\netc refused\nro refused\nscratch ok\n\
         / ro\n/tmp rw\n/dev rw\n/data rw\n/ro ro\n/etc/motd ro\n/scratch rw\n/proc rw\n/sys ro\n",
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Read-only file system"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(host.join("out.txt"))
            .ok()
            .as_deref(),
        Some("out\n"),
        "the read-write bind mount reached the host"
    );
    assert_eq!(
        std::fs::read_to_string(&motd).ok().as_deref(),
        Some("message of the day\n")
    );
    assert!(!bundle.join("rootfs/etc/new").exists());
    let _ = std::fs::remove_dir_all(&bundle);
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn bad_input_is_a_clear_error_with_no_leftover_state() {
    let state = fixture_dir().join(format!("state-bad-{}", std::process::id()));
    let check = |args: &[&str], wanted: &str| {
        let out = ringfence(&state, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(stderr.contains(wanted), "{args:?}: {stderr}");
    };
    check(
        &["create", "--bundle", "/nonexistent/bundle", "x1"],
        "not a directory",
    );
    let bad = fixture_dir().join(format!("bad-bundle-{}", std::process::id()));
    std::fs::create_dir_all(&bad).expect("bad bundle");
    std::fs::write(bad.join("config.json"), "{ not json").expect("bad config");
    check(
        &["create", "--bundle", bad.to_str().unwrap_or(""), "x2"],
        "config.json",
    );
    check(&["state", "nosuch"], "does not exist");
    // With --log and --log-format json, errors are also runc's JSON lines in the log.
    let log = fixture_dir().join(format!("log-{}.json", std::process::id()));
    let log_arg = log.to_str().unwrap_or("");
    check(
        &["--log", log_arg, "--log-format", "json", "state", "nosuch"],
        "does not exist",
    );
    let line: Value = serde_json::from_str(
        std::fs::read_to_string(&log)
            .expect("log written")
            .lines()
            .last()
            .unwrap_or(""),
    )
    .expect("a JSON line");
    assert_eq!(line["level"], "error");
    assert!(
        line["msg"]
            .as_str()
            .unwrap_or("")
            .contains("\"nosuch\" does not exist")
    );
    assert!(line["time"].as_str().is_some_and(|t| t.ends_with('Z')));
    let _ = std::fs::remove_file(&log);
    check(&["kill", "nosuch", "TERM"], "does not exist");
    check(&["delete", "nosuch"], "does not exist");
    check(
        &["create", "--bundle", "/tmp", "../escape"],
        "invalid container id",
    );
    assert!(
        ringfence_state_empty(&state),
        "nothing was left under --root"
    );
    if let Some(bundle) = bundle("dup", &["/bin/busybox", "sleep", "30"]) {
        let b = bundle.to_str().unwrap_or("");
        assert!(create(&state, &bundle, "dup", &[]).0);
        check(&["create", "--bundle", b, "dup"], "already exists");
        assert!(
            ringfence(&state, &["delete", "--force", "dup"])
                .status
                .success()
        );
        assert!(ringfence_state_empty(&state));

        // Fields the sandbox cannot honour are refused by name.
        let config = bundle.join("config.json");
        let original: Value =
            serde_json::from_slice(&std::fs::read(&config).expect("config")).expect("JSON");
        let mut edited = original.clone();
        edited["annotations"]["dev.ringfence.platform"] = "hvf".into();
        std::fs::write(&config, edited.to_string()).expect("config");
        check(&["create", "--bundle", b, "x3"], "dev.ringfence.platform");
        for (mounts, wanted) in [
            (
                serde_json::json!([{ "destination": "/proc", "type": "bind",
                    "source": "/proc", "options": ["rbind", "rw"] }]),
                "mounts[0] (/proc)",
            ),
            (
                serde_json::json!([{ "destination": "/proc", "type": "proc" },
                    { "destination": "/data", "type": "bind",
                      "source": "/nonexistent/dir", "options": ["rbind"] }]),
                "mounts[1] (/data): source /nonexistent/dir",
            ),
            (
                serde_json::json!([{ "destination": "/mnt", "type": "nfs", "source": "x:/y" }]),
                "mounts[0] (/mnt): \"nfs\" mounts are not supported",
            ),
        ] {
            let mut edited = original.clone();
            edited["mounts"] = mounts;
            std::fs::write(&config, edited.to_string()).expect("config");
            check(&["create", "--bundle", b, "x4"], wanted);
        }
        assert!(ringfence_state_empty(&state));
        let _ = std::fs::remove_dir_all(&bundle);
    }
    let _ = std::fs::remove_dir_all(&bad);
    let _ = std::fs::remove_dir_all(&state);
}

fn ringfence_state_empty(state: &Path) -> bool {
    std::fs::read_dir(state).map_or(true, |mut d| d.next().is_none())
}

#[test]
fn spec_writes_a_config_that_runs() {
    let Some(bundle) = bundle("spec", &["/bin/busybox", "true"]) else {
        return;
    };
    let config = bundle.join("config.json");
    std::fs::remove_file(&config).expect("remove the test's config");
    let state = fixture_dir().join(format!("state-spec-{}", std::process::id()));
    let b = bundle.to_str().unwrap_or("");
    let out = ringfence(&state, &["spec", "--bundle", b]);
    assert!(
        out.status.success(),
        "spec: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = ringfence(&state, &["spec", "--bundle", b]);
    assert!(!out.status.success(), "spec does not overwrite a config");

    let mut spec: Value =
        serde_json::from_slice(&std::fs::read(&config).expect("config written")).expect("JSON");
    spec["process"]["args"] = serde_json::json!(["/bin/busybox", "uname", "-n"]);
    std::fs::write(&config, spec.to_string()).expect("config");
    let out = ringfence(&state, &["run", "--bundle", b, "s1"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{}\n", spec["hostname"].as_str().unwrap_or("?")),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success());
    assert!(ringfence_state_empty(&state), "run deletes the container");
    let _ = std::fs::remove_dir_all(&bundle);
    let _ = std::fs::remove_dir_all(&state);
}
