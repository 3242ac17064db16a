//! `cargo bench --bench syscalls`: what common system calls cost natively, under
//! `ringfence do --platform kvm` and under `--platform ptrace` (and, where KVM has the
//! hardware backend, under kvm's exit-per-trap mode as well as its default guest mode).
//!
//! Every mode of `tests/fixtures/bench.c` (compiled here with `gcc -static`) runs on every
//! platform, interleaved — mode-major, platform-minor, repeated — so drift of the host hits
//! all platforms alike; each cell is the median of the repetitions. A mode that fails on a
//! platform is reported as unsupported with the reason; a platform that cannot run at all is
//! skipped with the reason. VM exits per operation come from `--stats`, minus the exits of a
//! run of mode `true` (start-up and exit), which is also the whole-sandbox figure.
//!
//! Writes `target/ringfence-bench/syscalls.{md,csv,svg}` and `syscalls_startup.csv`.
//! `RF_BENCH_QUICK=1` (or `--quick`): fewer iterations and repetitions.
//! `RF_BENCH_MODES=getpid,stat`: only those modes. `RF_BENCH_RINGFENCE=path`: that binary.
//! `RF_BENCH_PROGRAM=path`: that prebuilt bench program (see `ci/bench-in-vm`).

mod setup;
mod spawn;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ringfence_benches::chart::{self, Series};
use ringfence_benches::report::{self, Cell, Row, StartupRow, Table};
use ringfence_benches::result::{ModeLine, failure_line, median, stat_counter};

/// A mode of the bench program and the iterations per run natively and in the sandbox
/// (sized for ~0.1–0.3 s per run on our machines: the sandbox is 10–1000× slower).
struct Mode {
    name: &'static str,
    per: &'static str,
    native: u64,
    sandbox: u64,
}

const fn mode(name: &'static str, per: &'static str, native: u64, sandbox: u64) -> Mode {
    Mode {
        name,
        per,
        native,
        sandbox,
    }
}

const MODES: &[Mode] = &[
    mode("getpid", "op", 200_000, 5_000),
    mode("clock_gettime_vdso", "op", 1_000_000, 5_000),
    mode("clock_gettime_syscall", "op", 200_000, 5_000),
    mode("read_dev_zero", "op", 200_000, 5_000),
    mode("write_dev_null", "op", 200_000, 5_000),
    mode("open_close", "op", 20_000, 2_000),
    mode("stat", "op", 20_000, 2_000),
    mode("mmap_4k", "op", 20_000, 300),
    mode("mmap_1m", "op", 300, 10),
    mode("page_fault", "page", 32_768, 4_096),
    mode("pipe_pingpong", "round trip", 5_000, 1_000),
    mode("futex_pingpong", "round trip", 5_000, 1_000),
    mode("fork_exit_wait", "op", 1_000, 50),
    mode("execve_true", "op", 300, 10),
    mode("sched_yield", "op", 200_000, 5_000),
];

/// The mode that exits at once: start-up cost and the baseline of VM exits.
const TRUE: &str = "true";

struct Config {
    reps: usize,
    /// Iteration counts are divided by this.
    divisor: u64,
    limit: Duration,
    modes: Vec<&'static Mode>,
}

impl Config {
    fn from_env() -> Config {
        let quick = std::env::args().any(|a| a == "--quick")
            || std::env::var("RF_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
        let wanted = std::env::var("RF_BENCH_MODES")
            .ok()
            .filter(|w| !w.trim().is_empty());
        let modes = MODES
            .iter()
            .filter(|m| {
                wanted
                    .as_deref()
                    .is_none_or(|w| w.split(',').any(|n| n.trim() == m.name))
            })
            .collect();
        Config {
            reps: if quick { 2 } else { 5 },
            divisor: if quick { 10 } else { 1 },
            limit: Duration::from_secs(if quick { 30 } else { 60 }),
            modes,
        }
    }

    fn iters(&self, m: &Mode, native: bool) -> u64 {
        (if native { m.native } else { m.sandbox } / self.divisor).max(2)
    }
}

/// Native, or `ringfence do --platform <arg>` (with `RINGFENCE_KVM_MODE=<kvm_mode>`).
struct Platform {
    name: &'static str,
    arg: &'static str,
    kvm_mode: Option<&'static str>,
    sandboxed: bool,
    /// Why the platform is not measured, if it is not.
    skipped: Option<String>,
}

/// One successful run.
struct Sample {
    ns: f64,
    vm_exits: Option<u64>,
    wall: Duration,
    peak_rss_kib: u64,
}

/// One failed run, and whether it failed by taking too long.
struct Failure {
    why: String,
    timed_out: bool,
}

impl From<String> for Failure {
    fn from(why: String) -> Failure {
        Failure {
            why,
            timed_out: false,
        }
    }
}

type Outcome = Result<Sample, Failure>;

struct Runner {
    bench: PathBuf,
    ringfence: Option<PathBuf>,
    limit: Duration,
}

impl Runner {
    fn run(&self, platform: &Platform, mode: &str, iters: Option<u64>) -> Outcome {
        let mut cmd = if platform.sandboxed {
            let ringfence = self
                .ringfence
                .as_ref()
                .ok_or_else(|| "no ringfence binary".to_string())?;
            let mut c = Command::new(ringfence);
            c.args(["do", "--platform", platform.arg, "--stats", "--"])
                .arg(&self.bench);
            if let Some(mode) = platform.kvm_mode {
                c.env("RINGFENCE_KVM_MODE", mode);
            }
            c
        } else {
            Command::new(&self.bench)
        };
        cmd.arg(mode);
        if let Some(n) = iters {
            cmd.arg(n.to_string());
        }
        let f = spawn::run(&mut cmd, self.limit).map_err(|e| format!("cannot run: {e}"))?;
        if f.timed_out {
            return Err(Failure {
                why: format!("timed out after {} s", self.limit.as_secs()),
                timed_out: true,
            });
        }
        if let Some(how) = f.failure() {
            let line = failure_line(&f.stderr);
            // The row already names the mode.
            let line = line
                .strip_prefix(&format!("bench: {mode}: "))
                .unwrap_or(&line);
            return Err(format!("{how}: {line}").into());
        }
        let ns = match iters {
            None if f.stdout.trim().is_empty() => 0.0,
            None => return Err(format!("unexpected output: {}", first_line(&f.stdout)).into()),
            Some(n) => match ModeLine::find(&f.stdout) {
                Some(line) if line.mode == mode && line.iters == n => line.ns_per_op,
                _ => {
                    return Err(
                        format!("exit 0 without a result line: {}", first_line(&f.stdout)).into(),
                    );
                }
            },
        };
        Ok(Sample {
            ns,
            vm_exits: stat_counter(&f.stderr, "vm_exits"),
            wall: f.wall,
            peak_rss_kib: f.peak_rss_kib,
        })
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("(nothing)")
}

fn main() {
    let cfg = Config::from_env();
    let out_dir = setup::target_dir().join("ringfence-bench");
    if let Err(e) = std::fs::create_dir_all(&out_dir) {
        eprintln!(
            "syscalls: skipped: cannot create {}: {e}",
            out_dir.display()
        );
        return;
    }
    // The program must live outside /tmp, which the sandbox replaces with its own.
    let bench = match setup::compile_bench(&ringfence_tests::fixture_dir()) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("syscalls: skipped: {e}");
            return;
        }
    };
    let ringfence = setup::ringfence()
        .map_err(|e| eprintln!("warning: {e}; only the native platform runs"))
        .ok();
    let runner = Runner {
        bench,
        ringfence,
        limit: cfg.limit,
    };
    let platforms = probe_platforms(&runner);
    let machine = runner
        .ringfence
        .as_deref()
        .map_or_else(|| "no ringfence binary".into(), setup::describe_machine);
    let samples = measure(&cfg, &runner, &platforms);
    write_report(&cfg, &platforms, &samples, &machine, &out_dir);
}

/// Native always; each sandbox platform if a run of mode `true` succeeds on it. Where KVM has
/// the hardware backend, its default (guest) mode and its exit-per-trap mode both run.
fn probe_platforms(runner: &Runner) -> Vec<Platform> {
    let hardware = runner.ringfence.as_ref().is_some_and(|r| {
        Command::new(r)
            .arg("platform")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("hardware backend"))
    });
    let mut candidates = vec![("kvm", "kvm", None)];
    if hardware {
        candidates.push(("kvm exit-per-trap", "kvm", Some("exit-per-trap")));
    }
    candidates.push(("ptrace", "ptrace", None));
    let mut platforms = vec![Platform {
        name: "native",
        arg: "",
        kvm_mode: None,
        sandboxed: false,
        skipped: None,
    }];
    for (name, arg, kvm_mode) in candidates {
        let mut p = Platform {
            name,
            arg,
            kvm_mode,
            sandboxed: true,
            skipped: None,
        };
        p.skipped = if runner.ringfence.is_none() {
            Some("no ringfence binary".into())
        } else if arg == "kvm" && !Path::new("/dev/kvm").exists() {
            Some("/dev/kvm does not exist on this host".into())
        } else {
            runner.run(&p, TRUE, None).err().map(|f| f.why)
        };
        if let Some(why) = &p.skipped {
            eprintln!("skipping the {name} platform: {why}");
        }
        platforms.push(p);
    }
    platforms
}

/// Every (mode, platform) result of every repetition, keyed by mode and platform index.
type Samples = HashMap<(&'static str, usize), Vec<Outcome>>;

fn measure(cfg: &Config, runner: &Runner, platforms: &[Platform]) -> Samples {
    let mut samples = Samples::new();
    let modes: Vec<(&'static str, Option<&Mode>)> = std::iter::once((TRUE, None))
        .chain(cfg.modes.iter().map(|m| (m.name, Some(*m))))
        .collect();
    for rep in 0..cfg.reps {
        for (name, m) in &modes {
            let mut progress = format!("rep {}/{} {name:>22}:", rep + 1, cfg.reps);
            for (i, p) in platforms.iter().enumerate() {
                if p.skipped.is_some() {
                    continue;
                }
                let runs = samples.entry((name, i)).or_default();
                // A mode that failed in the first repetition is unsupported, and one that
                // timed out twice hangs: do not wait for them again.
                let unsupported = runs
                    .first()
                    .is_some_and(|r| r.as_ref().is_err_and(|f| !f.timed_out));
                let timeouts = runs
                    .iter()
                    .filter(|r| r.as_ref().is_err_and(|f| f.timed_out))
                    .count();
                if unsupported || timeouts >= 2 {
                    continue;
                }
                let iters = m.map(|m| cfg.iters(m, !p.sandboxed));
                let outcome = runner.run(p, name, iters);
                progress += &match &outcome {
                    Ok(s) if iters.is_some() => format!("  {} {}", p.name, report::format_ns(s.ns)),
                    Ok(s) => format!(
                        "  {} {}",
                        p.name,
                        report::format_ns(s.wall.as_nanos() as f64)
                    ),
                    Err(f) if f.timed_out => format!("  {} timed out", p.name),
                    Err(_) => format!("  {} failed", p.name),
                };
                runs.push(outcome);
            }
            eprintln!("{progress}");
        }
    }
    samples
}

fn summarise(runs: &[Outcome], value: impl Fn(&Sample) -> f64) -> Cell {
    let ok: Vec<f64> = runs.iter().flatten().map(value).collect();
    match median(&ok) {
        Some(ns) => Cell::Measured {
            ns,
            runs: runs.len(),
            failed: runs.len() - ok.len(),
        },
        None => Cell::Unsupported(
            runs.iter()
                .find_map(|r| r.as_ref().err().map(|f| f.why.clone()))
                .unwrap_or_else(|| "not run".into()),
        ),
    }
}

fn median_of(runs: &[Outcome], value: impl Fn(&Sample) -> Option<f64>) -> Option<f64> {
    let v: Vec<f64> = runs.iter().flatten().filter_map(value).collect();
    median(&v)
}

fn write_report(
    cfg: &Config,
    platforms: &[Platform],
    samples: &Samples,
    machine: &str,
    out_dir: &Path,
) {
    let runs =
        |mode: &'static str, i: usize| samples.get(&(mode, i)).map_or(&[][..], Vec::as_slice);
    let exits_platform = platforms.iter().position(|p| p.name == "kvm");
    let exits =
        |i: usize, mode: &'static str| median_of(runs(mode, i), |s| s.vm_exits.map(|e| e as f64));

    let rows: Vec<Row> = cfg
        .modes
        .iter()
        .map(|m| Row {
            mode: m.name.to_string(),
            per: m.per,
            cells: platforms
                .iter()
                .enumerate()
                .map(|(i, p)| match p.skipped {
                    Some(_) => Cell::Skipped,
                    None => summarise(runs(m.name, i), |s| s.ns),
                })
                .collect(),
            exits_per_op: exits_platform.and_then(|i| {
                let per_run = exits(i, m.name)? - exits(i, TRUE)?;
                Some((per_run / cfg.iters(m, false) as f64).max(0.0))
            }),
        })
        .collect();
    let table = Table {
        platforms: platforms.iter().map(|p| p.name.to_string()).collect(),
        rows,
        exits_platform: "kvm".into(),
    };
    let startup: Vec<StartupRow> = platforms
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let r = runs(TRUE, i);
            StartupRow {
                platform: p.name.to_string(),
                wall_ns: match (&p.skipped, summarise(r, |s| s.wall.as_nanos() as f64)) {
                    (Some(_), _) | (None, Cell::Skipped) => Err("skipped".into()),
                    (None, Cell::Measured { ns, .. }) => Ok(ns),
                    (None, Cell::Unsupported(why)) => Err(format!("unsupported ({why})")),
                },
                peak_rss_kib: median_of(r, |s| Some(s.peak_rss_kib as f64)),
                vm_exits: (Some(i) == exits_platform)
                    .then(|| exits(i, TRUE))
                    .flatten(),
            }
        })
        .collect();

    let iterations: Vec<String> = cfg
        .modes
        .iter()
        .map(|m| format!("{} {}/{}", m.name, cfg.iters(m, true), cfg.iters(m, false)))
        .collect();
    let skipped: String = platforms
        .iter()
        .filter_map(|p| Some(format!("- {} skipped: {}\n", p.name, p.skipped.as_ref()?)))
        .collect();
    let md = format!(
        "# Syscall latency: native vs ringfence\n\n\
         Machine: {machine}.\n\n\
         Median of {reps} runs per cell, interleaved (mode-major, platform-minor); each run \
         times its own loop with `clock_gettime(CLOCK_MONOTONIC)`. Ratios are to native. \
         VM exits/op: `vm_exits` from `--stats`, minus those of a run of mode `true`, divided \
         by the iterations. Iterations per run (native/sandbox): {iters}.\n\n\
         {table}\n{skipped}\n\
         ## Whole sandbox: `bench true`, start to exit\n\n\
         Wall time from spawn to exit and peak RSS (wait4's rusage) of the process started \
         (`ringfence do --platform P --stats -- bench true`, or `bench true` natively).\n\n\
         {startup}",
        reps = cfg.reps,
        iters = iterations.join(", "),
        table = table.markdown(),
        startup = report::startup_markdown(&startup),
    );
    println!("\n{md}");

    let measured: Vec<(usize, &Platform)> = platforms
        .iter()
        .enumerate()
        .filter(|(_, p)| p.skipped.is_none())
        .collect();
    let series: Vec<Series> = measured
        .iter()
        .enumerate()
        .map(|(k, (i, p))| Series {
            name: p.name.to_string(),
            color: chart::PALETTE[k % chart::PALETTE.len()],
            values: table.rows.iter().map(|r| r.cells[*i].ns()).collect(),
        })
        .collect();
    let groups: Vec<String> = table.rows.iter().map(|r| r.mode.clone()).collect();
    let mut notes = vec![format!(
        "Median of {} runs; log scale; n/a: the mode does not work on that platform yet.",
        cfg.reps
    )];
    notes.extend(machine.split("; ").map(str::to_string));
    notes.extend(
        platforms
            .iter()
            .filter_map(|p| Some(format!("{} skipped: {}", p.name, p.skipped.as_ref()?))),
    );
    let svg = chart::log_bar_chart(
        "Time per operation: native vs ringfence",
        &notes,
        &groups,
        &series,
    );
    let files = [
        ("syscalls.md", md.clone()),
        ("syscalls.csv", table.csv()),
        ("syscalls_startup.csv", report::startup_csv(&startup)),
        ("syscalls.svg", svg),
    ];
    for (name, contents) in files {
        let path = out_dir.join(name);
        match std::fs::write(&path, contents) {
            Ok(()) => println!("written: {}", path.display()),
            Err(e) => eprintln!("cannot write {}: {e}", path.display()),
        }
    }
}
