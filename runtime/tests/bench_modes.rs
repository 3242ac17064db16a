//! Every mode of the syscall benchmark program (`tests/fixtures/bench.c`, used by
//! `cargo bench --bench syscalls`) runs once with a few iterations: natively, where each must
//! succeed, and under `ringfence do --platform kvm`, where the modes the sandbox supports
//! today must succeed and the others are only reported. Results, not timings, are checked:
//! the program validates what each operation returns and fails loudly otherwise.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Whether the sandbox is expected to run a mode today.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kvm {
    Works,
    /// Reported, not asserted: flip to `Works` when the feature lands.
    NotYet,
}

/// Each mode, a small iteration count, and what the KVM platform is expected to do.
const MODES: &[(&str, u64, Kvm)] = &[
    ("getpid", 20, Kvm::Works),
    ("clock_gettime_vdso", 20, Kvm::Works),
    ("clock_gettime_syscall", 20, Kvm::Works),
    ("read_dev_zero", 20, Kvm::NotYet),
    ("write_dev_null", 20, Kvm::NotYet),
    ("open_close", 5, Kvm::NotYet),
    ("stat", 5, Kvm::NotYet),
    ("mmap_4k", 3, Kvm::Works),
    ("mmap_1m", 2, Kvm::Works),
    ("page_fault", 64, Kvm::Works),
    ("pipe_pingpong", 10, Kvm::NotYet),
    ("futex_pingpong", 10, Kvm::Works),
    ("fork_exit_wait", 3, Kvm::Works),
    ("execve_true", 2, Kvm::Works),
    ("sched_yield", 20, Kvm::Works),
];

/// Modes whose sandboxed runs can stall for seconds today, though they complete correctly:
/// every fork makes the software KVM backend refresh its shadow page tables, and the kick
/// loop in `Machine::page_tables_changed` can livelock with the kicked thread for up to
/// tens of seconds (queued real-time kick signals). A time-out of these is reported, not
/// asserted; a wrong result still fails. Remove a mode from here once that is fixed.
const KNOWN_STALLS: &[&str] = &["fork_exit_wait", "execve_true"];

/// Generous: a run takes well under a second; this only keeps a hang from stalling CI.
const LIMIT: Duration = Duration::from_secs(60);
/// For the modes of `KNOWN_STALLS`.
const STALL_LIMIT: Duration = Duration::from_secs(8);

/// `bench.c` compiled statically, once per test run.
fn bench() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/bench.c");
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-modes");
        let status = Command::new("gcc")
            .args(["-O2", "-Wall", "-static", "-pthread", "-o"])
            .arg(&out)
            .arg(&src)
            .status()
            .expect("gcc runs (install gcc)");
        assert!(status.success(), "gcc failed on {}", src.display());
        std::path::absolute(&out).expect("absolute path")
    })
}

struct Run {
    code: Option<i32>,
    timed_out: bool,
    stdout: String,
    stderr: String,
}

impl Run {
    fn describe(&self) -> String {
        let what = match self.code {
            _ if self.timed_out => "timed out".into(),
            Some(c) => format!("exit {c}"),
            None => "killed by a signal".into(),
        };
        format!(
            "{what}; stdout: {:?}; stderr: {:?}",
            self.stdout.trim(),
            self.stderr.trim()
        )
    }

    /// `mode=<mode> iters=<iters> ns_per_op=<non-negative float>` and nothing else.
    fn well_formed(&self, mode: &str, iters: u64) -> bool {
        let mut lines = self.stdout.lines();
        let (Some(line), None) = (lines.next(), lines.next()) else {
            return false;
        };
        let want = format!("mode={mode} iters={iters} ns_per_op=");
        self.code == Some(0)
            && line
                .strip_prefix(&want)
                .and_then(|ns| ns.parse::<f64>().ok())
                .is_some_and(|ns| ns.is_finite() && ns >= 0.0)
    }
}

fn run(mut cmd: Command, limit: Duration) -> Run {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    let (code, timed_out) = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break (status.code(), false);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break (None, true);
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut p) = child.stdout.take() {
        let _ = p.read_to_string(&mut stdout);
    }
    if let Some(mut p) = child.stderr.take() {
        let _ = p.read_to_string(&mut stderr);
    }
    Run {
        code,
        timed_out,
        stdout,
        stderr,
    }
}

fn native(args: &[&str]) -> Run {
    let mut cmd = Command::new(bench());
    cmd.args(args);
    run(cmd, LIMIT)
}

fn kvm(args: &[&str], limit: Duration) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ringfence"));
    cmd.args(["do", "--platform", "kvm", "--"])
        .arg(bench())
        .args(args);
    run(cmd, limit)
}

#[test]
fn every_mode_works_natively() {
    let mut failures = Vec::new();
    for &(mode, iters, _) in MODES {
        let r = native(&[mode, &iters.to_string()]);
        if !r.well_formed(mode, iters) {
            failures.push(format!("{mode}: {}", r.describe()));
        }
    }
    assert!(failures.is_empty(), "natively:\n{}", failures.join("\n"));
}

#[test]
fn the_program_reports_misuse_and_true_is_silent() {
    let t = native(&["true"]);
    assert_eq!(
        (t.code, t.stdout.as_str()),
        (Some(0), ""),
        "{}",
        t.describe()
    );
    let bad = native(&["getpid", "0"]);
    assert_eq!(bad.code, Some(1), "{}", bad.describe());
    assert!(bad.stdout.is_empty() && bad.stderr.starts_with("bench: getpid: "));
    let unknown = native(&["no_such_mode"]);
    assert_eq!(unknown.code, Some(2), "{}", unknown.describe());
    assert!(
        unknown.stderr.contains("unknown mode"),
        "{}",
        unknown.describe()
    );
}

#[test]
fn modes_under_kvm() {
    if !Path::new("/dev/kvm").exists() {
        eprintln!("skipping the kvm platform: /dev/kvm does not exist on this host");
        return;
    }
    let mut failures = Vec::new();
    for &(mode, iters, expected) in MODES {
        let started = Instant::now();
        let stalls = KNOWN_STALLS.contains(&mode);
        let limit = if stalls { STALL_LIMIT } else { LIMIT };
        let r = kvm(&[mode, &iters.to_string()], limit);
        let took = started.elapsed();
        let works = r.well_formed(mode, iters);
        match (expected, works) {
            (Kvm::Works, true) => eprintln!("kvm: {mode}: works ({took:.2?})"),
            (Kvm::Works, false) if stalls && r.timed_out => eprintln!(
                "kvm: {mode}: KNOWN BUG: stalled for more than {limit:?} (shadow-refresh kick \
                 livelock); not counted as a failure"
            ),
            (Kvm::Works, false) => failures.push(format!("{mode}: {}", r.describe())),
            (Kvm::NotYet, true) => eprintln!(
                "kvm: {mode}: works now — mark it Kvm::Works in runtime/tests/bench_modes.rs"
            ),
            (Kvm::NotYet, false) => {
                let why = r
                    .stderr
                    .lines()
                    .find(|l| l.starts_with("bench:"))
                    .unwrap_or_else(|| r.stderr.lines().next().unwrap_or(""));
                eprintln!("kvm: {mode}: not yet ({why})");
            }
        }
    }
    assert!(
        failures.is_empty(),
        "modes expected to work under kvm failed:\n{}",
        failures.join("\n")
    );
}
