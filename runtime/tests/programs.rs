//! Differential tests: C programs compiled at test time with the system `gcc` run natively
//! and under `ringfence do`, and must print the same and exit the same.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The fixtures directory of the workspace.
fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

use ringfence_tests::fixture_dir;

/// Compile `name.c` once per test run (static or dynamic) and return the binary.
fn build(name: &str, link: Link) -> PathBuf {
    static LOCK: OnceLock<std::sync::Mutex<()>> = OnceLock::new();
    let _guard = LOCK.get_or_init(Default::default).lock();
    let out = fixture_dir().join(format!("{name}-{link:?}"));
    let src = fixtures().join(format!("{name}.c"));
    let fresh = out.metadata().and_then(|o| o.modified()).ok()
        >= src.metadata().and_then(|s| s.modified()).ok();
    if !fresh || !out.exists() {
        // Build under a private name and rename, so concurrent test binaries never run a
        // half-written file.
        let tmp = out.with_extension(format!("tmp{}", std::process::id()));
        let mut gcc = Command::new("gcc");
        gcc.args(["-O2", "-Wall", "-o"]).arg(&tmp).arg(&src);
        if link == Link::Static {
            gcc.arg("-static");
        }
        if name == "threads" {
            gcc.arg("-pthread");
        }
        let status = gcc.status().expect("gcc runs (install gcc)");
        assert!(status.success(), "gcc failed for {name}");
        std::fs::rename(&tmp, &out).expect("install the fixture");
    }
    out
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Link {
    Static,
    Dynamic,
}

fn native(program: &Path, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .env("RF_TEST_VALUE", "forty-two")
        .output()
        .expect("the program runs natively")
}

fn sandboxed(platform: &str, program: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ringfence"))
        .args(["do", "--platform", platform, "--"])
        .arg(program)
        .args(args)
        .env("RF_TEST_VALUE", "forty-two")
        .output()
        .expect("ringfence runs")
}

/// The platforms this host can test, saying why one is skipped.
fn platforms() -> Vec<&'static str> {
    let mut p = vec!["ptrace"];
    if Path::new("/dev/kvm").exists() {
        p.push("kvm");
    } else {
        eprintln!("skipping the kvm platform: /dev/kvm does not exist on this host");
    }
    p
}

/// Run natively and in the sandbox; stdout and the exit status must match.
fn same(name: &str, link: Link, args: &[&str]) {
    let program = build(name, link);
    same_program(&format!("{name} ({link:?})"), &program, args, |s| {
        s.to_string()
    });
}

/// Like [`same`] for any program, comparing stdout after `filter`.
fn same_program(name: &str, program: &Path, args: &[&str], filter: impl Fn(&str) -> String) {
    let expected = native(program, args);
    for platform in platforms() {
        let got = sandboxed(platform, program, args);
        let stderr = String::from_utf8_lossy(&got.stderr);
        assert_eq!(
            filter(&String::from_utf8_lossy(&got.stdout)),
            filter(&String::from_utf8_lossy(&expected.stdout)),
            "{name} stdout on {platform}; sandbox stderr:\n{stderr}"
        );
        // ringfence reports a death by signal N as the shell does: status 128 + N.
        let expected_code = expected.status.code().or_else(|| {
            std::os::unix::process::ExitStatusExt::signal(&expected.status).map(|s| 128 + s)
        });
        assert_eq!(
            got.status.code(),
            expected_code,
            "{name} exit status on {platform}; sandbox stderr:\n{stderr}"
        );
    }
}

#[test]
fn static_hello_world() {
    same("hello", Link::Static, &["world"]);
}

#[test]
fn static_arguments_environment_and_auxv() {
    same("args", Link::Static, &["one", "two words", ""]);
}

#[test]
fn static_heap_and_mappings() {
    same("memory", Link::Static, &[]);
}

#[test]
fn static_fork_exec_wait() {
    same("forkexec", Link::Static, &[]);
}

#[test]
fn static_signals() {
    same("signals", Link::Static, &[]);
}

#[test]
fn static_fp_registers_across_fork_and_signal_handlers() {
    same("fpregs", Link::Static, &[]);
}

#[test]
fn static_user_and_group_ids() {
    same("ids", Link::Static, &[]);
}

#[test]
fn static_threads_mutex_condvar() {
    same("threads", Link::Static, &[]);
}

/// Signals sent to `ringfence` reach the program: a handled SIGTERM, and SIGINT's default
/// action ending it with status 130.
#[test]
fn signals_to_ringfence_reach_the_program() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let program = build("sleeper", Link::Static);
    for platform in platforms() {
        for (args, sig, code, line) in [
            (&["handle"][..], libc::SIGTERM, 0, Some("got signal 15")),
            (&[][..], libc::SIGINT, 130, None),
        ] {
            let mut child = Command::new(env!("CARGO_BIN_EXE_ringfence"))
                .args(["do", "--platform", platform, "--"])
                .arg(&program)
                .args(args)
                .stdout(Stdio::piped())
                .spawn()
                .expect("ringfence runs");
            let mut out = BufReader::new(child.stdout.take().expect("stdout"));
            let mut first = String::new();
            out.read_line(&mut first).expect("ready line");
            assert_eq!(first, "ready\n");
            // SAFETY: sending a signal to our own child process.
            assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
            let mut rest = String::new();
            std::io::Read::read_to_string(&mut out, &mut rest).expect("output");
            let status = child.wait().expect("ringfence exits");
            assert_eq!(status.code(), Some(code), "{platform}: signal {sig}");
            if let Some(line) = line {
                assert_eq!(rest.trim(), line, "{platform}");
            }
        }
    }
}

#[test]
fn static_pipes_poll_epoll_eventfd() {
    same("pipes", Link::Static, &[]);
}

/// Every C fixture also runs dynamically linked: ld.so, libc and file mappings.
#[test]
fn dynamic_fixtures() {
    same("hello", Link::Dynamic, &["world"]);
    same("args", Link::Dynamic, &["one", "two words"]);
    same("memory", Link::Dynamic, &[]);
    same("forkexec", Link::Dynamic, &[]);
    same("threads", Link::Dynamic, &[]);
    same("signals", Link::Dynamic, &[]);
    same("pipes", Link::Dynamic, &[]);
}

fn busybox() -> Option<PathBuf> {
    let path = PathBuf::from("/bin/busybox");
    if path.exists() {
        Some(path)
    } else {
        eprintln!("skipping busybox tests: /bin/busybox is missing (Debian's busybox-static)");
        None
    }
}

#[test]
fn busybox_applets() {
    let Some(bb) = busybox() else { return };
    for args in [
        &["echo", "hello", "world"][..],
        &["cat", "/etc/os-release"],
        &["wc", "/etc/os-release"],
        &["head", "-n", "3", "/etc/os-release"],
        &["sha256sum", "/etc/os-release"],
        &["sh", "-c", "find /etc -name '*.conf' | sort"],
        &["sh", "-c", "sort /etc/os-release | uniq | head -4"],
        // /proc is the sandbox's own, with the answers Linux gives.
        &["readlink", "/proc/self/exe"],
        &["head", "-1", "/proc/self/status"],
        &["sh", "-c", "tr '\\0' ' ' < /proc/self/cmdline; echo"],
        &["sh", "-c", "grep -c '^processor' /proc/cpuinfo"],
        // /sys is the sandbox's own too, with the CPUs the host has.
        &["cat", "/sys/devices/system/cpu/online"],
        &["nproc"],
    ] {
        same_program(&format!("busybox {args:?}"), &bb, args, |s| s.to_string());
    }
}

#[test]
fn busybox_shell() {
    let Some(bb) = busybox() else { return };
    let script = "echo one two three | tr ' ' '\\n' | sort -r; \
                  echo written > /tmp/out && cat /tmp/out; \
                  for i in 1 2 3; do printf '%s.' $i; done; echo; \
                  x=$(echo substituted); echo $x; false; echo status $?; \
                  (exit 4); echo sub $?";
    same_program("busybox sh", &bb, &["sh", "-c", script], |s| s.to_string());
    same_program(
        "busybox ls -la /",
        &bb,
        &["ls", "-la", "/"],
        sandbox_root_listing,
    );
}

/// A long listing of `/` differs only where the sandbox has its own file systems — /dev,
/// /proc, /sys, /tmp — and in `.`/`..`, the root of the overlay, whose link count is not
/// known (as on overlayfs); those lines and the total are dropped from the comparison, and
/// runs of spaces are folded because the dropped lines set the column widths.
fn sandbox_root_listing(s: &str) -> String {
    let own = [" dev", " proc", " sys", " tmp", " .", " .."];
    s.lines()
        .filter(|l| !l.starts_with("total") && !own.iter().any(|o| l.ends_with(o)))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") + "\n")
        .collect()
}

#[test]
fn debian_dynamic_programs() {
    same_program(
        "ls -l /",
        Path::new("/bin/ls"),
        &["-l", "/"],
        sandbox_root_listing,
    );
    same_program(
        "cat os-release",
        Path::new("/bin/cat"),
        &["/etc/os-release"],
        |s| s.to_string(),
    );
    same_program("env", Path::new("/usr/bin/env"), &[], |s| s.to_string());
    same_program(
        "bash",
        Path::new("/bin/bash"),
        &["-c", "echo $((6*7))"],
        |s| s.to_string(),
    );
    let py = Path::new("/usr/bin/python3");
    if py.exists() {
        let code = "import os, json; print(json.dumps(sorted(os.listdir('/'))))";
        same_program("python3", py, &["-c", code], |s| s.to_string());
    }
}

#[test]
fn static_files_in_tmp() {
    same("files", Link::Static, &[]);
}

/// A program that rewrites and unlinks a host file changes only its private layer: the host
/// copy is byte-for-byte the same afterwards, on every platform.
#[test]
fn host_files_never_change() {
    let program = build("files", Link::Static);
    let victim = fixture_dir().join("host-victim.txt");
    std::fs::write(&victim, "the host's own contents\n").expect("victim file");
    let before = std::fs::read(&victim).expect("read victim");
    let modified = victim.metadata().and_then(|m| m.modified()).expect("mtime");
    for platform in platforms() {
        let out = sandboxed(platform, &program, &[victim.to_str().expect("utf-8 path")]);
        assert!(
            out.status.success(),
            "{platform}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("host file attempted"));
        assert_eq!(
            std::fs::read(&victim).expect("victim still exists"),
            before,
            "{platform}"
        );
        assert_eq!(
            victim.metadata().and_then(|m| m.modified()).ok(),
            Some(modified)
        );
    }
}

#[test]
fn static_shared_file_mappings() {
    same("sharedmap", Link::Static, &[]);
}

/// /dev/stdin, /dev/stdout and /proc/self/fd/N reach the caller's streams.
#[test]
fn standard_streams_by_name() {
    use std::io::Write;
    use std::process::Stdio;
    for platform in platforms() {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ringfence"))
            .args(["do", "--platform", platform, "--", "/bin/sh", "-c"])
            .arg("cat /dev/stdin; echo out > /dev/stdout; echo fd > /proc/self/fd/1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("ringfence runs");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(b"in\n")
            .expect("write stdin");
        let out = child.wait_with_output().expect("output");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "in\nout\nfd\n",
            "{platform}"
        );
        assert!(out.status.success(), "{platform}");
    }
}

/// A program blocked reading its (never-written) standard input still gets SIGINT.
#[test]
fn sigint_reaches_a_program_blocked_on_stdin() {
    use std::process::Stdio;
    for platform in platforms() {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ringfence"))
            .args(["do", "--platform", platform, "--", "/bin/cat"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("ringfence runs");
        // Give the program time to start and block in read().
        std::thread::sleep(std::time::Duration::from_millis(500));
        // Keep stdin open (no EOF), so only the signal can end the read.
        let stdin = child.stdin.take();
        // SAFETY: sending a signal to our own child process.
        assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let status = loop {
            if let Some(status) = child.try_wait().expect("ringfence status") {
                break Some(status);
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        drop(stdin);
        let status = status.unwrap_or_else(|| panic!("{platform}: still blocked after SIGINT"));
        assert_eq!(status.code(), Some(130), "{platform}");
    }
}
