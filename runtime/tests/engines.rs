//! ringfence under the container engines people use: podman (through conmon) and containerd
//! (through its runc shim, the path Kubernetes takes), each with a state of its own in a
//! temporary directory and an image imported from a rootfs built here (busybox-static). Where
//! Debian's runc is installed, every podman case also runs with it and the two must agree.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use ringfence_tests::fixture_dir;

const RINGFENCE: &str = env!("CARGO_BIN_EXE_ringfence");
const IMAGE: &str = "localhost/ringfence-test-busybox:latest";

fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A fresh directory for one test's engine state.
fn work_dir(tag: &str) -> PathBuf {
    let dir = fixture_dir().join(format!("engine-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("work dir");
    dir
}

/// A tarball of a root file system: busybox-static with a link per applet.
fn rootfs_tar(dir: &Path) -> PathBuf {
    let root = dir.join("rootfs");
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).expect("rootfs/bin");
    for d in ["etc", "tmp", "var/tmp", "proc", "dev", "sys"] {
        std::fs::create_dir_all(root.join(d)).expect("rootfs dir");
    }
    std::fs::copy("/bin/busybox", bin.join("busybox")).expect("copy busybox");
    let list = Command::new("/bin/busybox")
        .arg("--list")
        .output()
        .expect("busybox --list");
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" && !applet.is_empty() {
            std::os::unix::fs::symlink("busybox", bin.join(applet)).expect("applet link");
        }
    }
    let tar = dir.join("rootfs.tar");
    let ok = Command::new("tar")
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .expect("tar runs")
        .success();
    assert!(ok, "tar failed");
    tar
}

/// podman with its storage under `dir` and its run state in a short directory of its own
/// (podman wants a run root under 50 characters), so tests touch nothing of the host's.
struct Podman {
    dir: PathBuf,
    runroot: PathBuf,
}

impl Podman {
    fn new(dir: &Path, tag: &str) -> Podman {
        Podman {
            dir: dir.to_path_buf(),
            runroot: PathBuf::from(format!("/run/rf-{tag}-{}", std::process::id())),
        }
    }

    fn command(&self) -> Command {
        let mut c = Command::new("podman");
        c.arg("--root")
            .arg(self.dir.join("storage"))
            .arg("--runroot")
            .arg(&self.runroot)
            .args([
                "--storage-driver=vfs",
                "--cgroup-manager=cgroupfs",
                "--events-backend=file",
            ]);
        c
    }

    fn output(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut c = self.command();
        c.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("podman runs");
        if let Some(mut pipe) = child.stdin.take()
            && let Some(data) = stdin
        {
            pipe.write_all(data.as_bytes()).expect("stdin");
        }
        child.wait_with_output().expect("podman output")
    }

    /// `podman run` with `runtime`: the machine's hard limits are below podman's defaults, and
    /// the sandbox has no network.
    fn run(&self, runtime: &str, opts: &[&str], cmd: &[&str], stdin: Option<&str>) -> Output {
        let mut args = vec![
            "--runtime",
            runtime,
            "run",
            "--network=none",
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=1024:1024",
        ];
        args.extend_from_slice(opts);
        args.push(IMAGE);
        args.extend_from_slice(cmd);
        self.output(&args, stdin)
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.output(&["rm", "--all", "--force"], None);
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_dir_all(&self.runroot);
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn debian_runc() -> Option<&'static str> {
    ["/usr/sbin/runc", "/usr/bin/runc"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

/// One `podman run`: options, command, stdin, what ringfence must print, its exit code.
type Case<'a> = (Vec<&'a str>, Vec<&'a str>, Option<&'a str>, &'a str, i32);

#[test]
fn podman_runs_containers_on_ringfence() {
    if !have("podman") || !Path::new("/bin/busybox").exists() {
        eprintln!("skipping: podman or /bin/busybox is not installed (CI installs both)");
        return;
    }
    let dir = work_dir("podman");
    let podman = Podman::new(&dir, "pm");
    let tar = rootfs_tar(&dir);
    let import = podman.output(
        &["import", "--quiet", tar.to_str().unwrap_or(""), IMAGE],
        None,
    );
    assert!(import.status.success(), "import: {}", text(&import.stderr));
    let host = dir.join("shared");
    std::fs::create_dir_all(&host).expect("shared dir");
    std::fs::write(host.join("in.txt"), "from the host\n").expect("in.txt");
    let rw = format!("{}:/data", host.display());
    let ro = format!("{}:/ro:ro", host.display());

    // (options, command, stdin, what ringfence must print, its exit code)
    let cases: Vec<Case> = vec![
        (vec!["--rm"], vec!["echo", "hello"], None, "hello\n", 0),
        (vec!["--rm"], vec!["sh", "-c", "exit 7"], None, "", 7),
        (
            vec!["--rm", "-i"],
            vec!["cat"],
            Some("piped in\n"),
            "piped in\n",
            0,
        ),
        (
            vec!["--rm", "-e", "GREETING=hi there"],
            vec!["sh", "-c", "echo $GREETING"],
            None,
            "hi there\n",
            0,
        ),
        (
            vec!["--rm", "-v", &rw, "-v", &ro],
            vec![
                "sh",
                "-c",
                "cat /data/in.txt; echo written > /data/out.txt; \
                 echo x > /ro/x 2>/dev/null || echo ro refused; cat /ro/out.txt",
            ],
            None,
            "from the host\nro refused\nwritten\n",
            0,
        ),
        (
            vec!["--rm", "--user", "1000:1000", "--group-add", "20"],
            vec![
                "sh",
                "-c",
                "id; grep -E '^(Uid|Gid|Groups)' /proc/self/status; \
                 echo x > /etc/x 2>/dev/null || echo denied",
            ],
            None,
            "uid=1000 gid=1000 groups=20,1000\nUid:\t1000\t1000\t1000\t1000\n\
             Gid:\t1000\t1000\t1000\t1000\nGroups:\t20 1000 \ndenied\n",
            0,
        ),
        (
            // Limits and capabilities: podman's default set lacks CAP_SYS_RESOURCE.
            vec!["--rm", "--ulimit", "nofile=100:200", "--cap-drop", "chown"],
            vec![
                "sh",
                "-c",
                "grep -E '^Cap(Prm|Eff)' /proc/self/status; ulimit -n; ulimit -Hn; \
                 ulimit -n 300 2>/dev/null || echo raise refused; ulimit -n 50; ulimit -n; \
                 chown 5 /etc/hostname 2>/dev/null || echo chown refused",
            ],
            None,
            "CapPrm:\t00000000800405fa\nCapEff:\t00000000800405fa\n100\n200\nraise refused\n\
             50\nchown refused\n",
            0,
        ),
        (
            vec!["--rm", "-t"],
            vec!["sh", "-c", "[ -t 0 ] && echo tty0; [ -t 1 ] && echo tty1"],
            None,
            "tty0\r\ntty1\r\n",
            0,
        ),
        (
            vec!["--rm", "--read-only"],
            vec![
                "sh",
                "-c",
                "echo x > /etc/x 2>/dev/null || echo root refused; echo ok > /tmp/t && cat /tmp/t",
            ],
            None,
            "root refused\nok\n",
            0,
        ),
    ];
    for (opts, cmd, stdin, want, code) in &cases {
        let out = podman.run(RINGFENCE, opts, cmd, *stdin);
        assert_eq!(
            (text(&out.stdout).as_str(), out.status.code()),
            (*want, Some(*code)),
            "podman run {opts:?} {cmd:?}: stderr: {}",
            text(&out.stderr)
        );
        if let Some(runc) = debian_runc() {
            let native = podman.run(runc, opts, cmd, *stdin);
            assert_eq!(
                (text(&native.stdout), native.status.code()),
                (text(&out.stdout), out.status.code()),
                "runc and ringfence differ on {opts:?} {cmd:?}: runc stderr: {}",
                text(&native.stderr)
            );
        }
    }
    assert_eq!(
        std::fs::read_to_string(host.join("out.txt"))
            .ok()
            .as_deref(),
        Some("written\n")
    );

    // Detached, stopped with SIGTERM, removed.
    let out = podman.run(RINGFENCE, &["-d"], &["sleep", "100"], None);
    assert!(out.status.success(), "run -d: {}", text(&out.stderr));
    let id = text(&out.stdout).trim().to_string();
    let status = |podman: &Podman| {
        text(
            &podman
                .output(&["inspect", "--format", "{{.State.Status}}", &id], None)
                .stdout,
        )
        .trim()
        .to_string()
    };
    assert_eq!(status(&podman), "running");
    // exec into it: output, exit code, stdin, environment, working directory, user; the
    // same as runc gives for the same container.
    let exec_cases: Vec<(Vec<&str>, Option<&str>)> = vec![
        (vec!["sh", "-c", "echo inside; exit 4"], None),
        (vec!["-i", "cat"], Some("to exec\n")),
        (
            vec!["-e", "X=y", "-w", "/tmp", "sh", "-c", "echo $X; pwd"],
            None,
        ),
        (vec!["--user", "1000:1000", "id"], None),
        (vec!["cat", "/proc/1/comm", "/proc/self/comm"], None),
        (vec!["-t", "sh", "-c", "[ -t 1 ] && echo tty"], None),
    ];
    let exec_all = |runtime: &str, id: &str| -> Vec<(String, Option<i32>)> {
        exec_cases
            .iter()
            .map(|(args, stdin)| {
                let (opts, cmd): (Vec<&str>, Vec<&str>) = split_exec(args);
                let mut a = vec!["--runtime", runtime, "exec"];
                a.extend(opts);
                a.push(id);
                a.extend(cmd);
                let out = podman.output(&a, *stdin);
                (text(&out.stdout), out.status.code())
            })
            .collect()
    };
    let ours = exec_all(RINGFENCE, &id);
    assert_eq!(ours[0], ("inside\n".to_string(), Some(4)));
    assert_eq!(ours[1], ("to exec\n".to_string(), Some(0)));
    assert_eq!(ours[2], ("y\n/tmp\n".to_string(), Some(0)));
    assert_eq!(ours[3], ("uid=1000 gid=1000\n".to_string(), Some(0)));
    assert_eq!(ours[4], ("sleep\ncat\n".to_string(), Some(0)));
    assert_eq!(ours[5], ("tty\r\n".to_string(), Some(0)));
    if let Some(runc) = debian_runc() {
        let out = podman.run(runc, &["-d"], &["sleep", "100"], None);
        assert!(out.status.success(), "runc run -d: {}", text(&out.stderr));
        let runc_id = text(&out.stdout).trim().to_string();
        assert_eq!(
            exec_all(runc, &runc_id),
            ours,
            "podman exec: runc and ringfence differ"
        );
        let _ = podman.output(&["--runtime", runc, "rm", "-f", "-t", "0", &runc_id], None);
    }
    let started = Instant::now();
    let out = podman.output(&["--runtime", RINGFENCE, "stop", "-t", "10", &id], None);
    assert!(out.status.success(), "stop: {}", text(&out.stderr));
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "SIGTERM ended the container, not the SIGKILL after the timeout"
    );
    assert_eq!(status(&podman), "exited");
    let code = podman.output(&["inspect", "--format", "{{.State.ExitCode}}", &id], None);
    assert_eq!(text(&code.stdout).trim(), "143", "128 + SIGTERM");
    let out = podman.output(&["--runtime", RINGFENCE, "rm", &id], None);
    assert!(out.status.success(), "rm: {}", text(&out.stderr));
    let out = podman.output(&["ps", "--all", "--quiet"], None);
    assert_eq!(text(&out.stdout), "", "no container is left");
}

/// An exec case's arguments split into options (up to and including the value of each
/// option that takes one) and the command.
fn split_exec<'a>(args: &[&'a str]) -> (Vec<&'a str>, Vec<&'a str>) {
    let mut i = 0;
    while i < args.len() && args[i].starts_with('-') {
        i += if matches!(args[i], "-e" | "-w" | "--user") {
            2
        } else {
            1
        };
    }
    (args[..i].to_vec(), args[i..].to_vec())
}

/// containerd with its own root, state and socket under `dir`; stopped on drop.
struct Containerd {
    child: std::process::Child,
    socket: PathBuf,
    dir: PathBuf,
}

impl Containerd {
    fn start(dir: &Path) -> Containerd {
        std::fs::create_dir_all(dir).expect("containerd dir");
        let socket = dir.join("containerd.sock");
        let config = dir.join("config.toml");
        std::fs::write(
            &config,
            format!(
                "version = 2\nroot = \"{root}\"\nstate = \"{state}\"\n\
                 disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
                 [grpc]\n  address = \"{sock}\"\n",
                root = dir.join("root").display(),
                state = dir.join("state").display(),
                sock = socket.display()
            ),
        )
        .expect("containerd config");
        let log = std::fs::File::create(dir.join("containerd.log")).expect("log");
        let child = Command::new("containerd")
            .arg("--config")
            .arg(&config)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("containerd starts");
        let c = Containerd {
            child,
            socket,
            dir: dir.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !c.ctr(&["version"]).status.success() {
            assert!(
                Instant::now() < deadline,
                "containerd did not come up: {}",
                std::fs::read_to_string(dir.join("containerd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        c
    }

    fn ctr(&self, args: &[&str]) -> Output {
        Command::new("ctr")
            .arg("--address")
            .arg(&self.socket)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("ctr runs")
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn containerd_runs_containers_on_ringfence() {
    if !have("containerd") || !have("podman") || !Path::new("/bin/busybox").exists() {
        eprintln!(
            "skipping: containerd, podman (which writes the OCI archive) or /bin/busybox is not \
             installed (CI installs them)"
        );
        return;
    }
    let dir = work_dir("containerd");
    let archive = dir.join("image.oci.tar");
    {
        let podman = Podman::new(&dir.join("podman"), "ctd");
        let tar = rootfs_tar(&podman.dir);
        let import = podman.output(
            &["import", "--quiet", tar.to_str().unwrap_or(""), IMAGE],
            None,
        );
        assert!(import.status.success(), "import: {}", text(&import.stderr));
        let save = podman.output(
            &[
                "save",
                "--quiet",
                "--format",
                "oci-archive",
                "-o",
                archive.to_str().unwrap_or(""),
                IMAGE,
            ],
            None,
        );
        assert!(save.status.success(), "save: {}", text(&save.stderr));
    }
    let containerd = Containerd::start(&dir.join("containerd"));
    let import = containerd.ctr(&[
        "images",
        "import",
        "--snapshotter",
        "native",
        archive.to_str().unwrap_or(""),
    ]);
    assert!(
        import.status.success(),
        "ctr import: {}",
        text(&import.stderr)
    );
    let id = format!("rf-{}", std::process::id());
    let out = containerd.ctr(&[
        "run",
        "--rm",
        "--snapshotter",
        "native",
        "--runc-binary",
        RINGFENCE,
        IMAGE,
        &id,
        "sh",
        "-c",
        "echo hi; exit 3",
    ]);
    assert_eq!(
        (text(&out.stdout).as_str(), out.status.code()),
        ("hi\n", Some(3)),
        "ctr run: {}",
        text(&out.stderr)
    );
    // A refusal reaches the user through the shim, which reads it from our JSON log.
    let out = containerd.ctr(&[
        "run",
        "--rm",
        "--snapshotter",
        "native",
        "--runc-binary",
        RINGFENCE,
        "--mount",
        "type=bind,src=/nonexistent/dir,dst=/x,options=rbind",
        IMAGE,
        &format!("{id}-bad"),
        "true",
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("(/x): source /nonexistent/dir"),
        "ctr run: {}",
        text(&out.stderr)
    );
    let left = containerd.ctr(&["containers", "list", "--quiet"]);
    assert_eq!(text(&left.stdout), "", "--rm removed the container");
}
