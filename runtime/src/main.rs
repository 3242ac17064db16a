//! `ringfence`: the command-line front of the sandbox.

mod check;
mod log;
mod oci;
mod run;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// ringfence — an application kernel for containers.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// runc's global options (`--root` is where container state lives; `--log` a log file;
    /// `--debug` logs at debug level; `RUST_LOG` sets a finer filter).
    #[command(flatten)]
    global: liboci_cli::GlobalOpts,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The OCI lifecycle: create, start, state, kill, delete.
    #[command(flatten)]
    Standard(liboci_cli::StandardCmd),
    /// The other runc commands: run, list, ps, spec, features (exec and the rest: not yet).
    #[command(flatten)]
    Common(Box<liboci_cli::CommonCmd>),
    /// Run PROGRAM in a fresh sandbox; the exit status is the program's (128+N for signal N).
    Do {
        /// Platform: kvm (default when /dev/kvm works) or ptrace.
        #[arg(long, value_enum)]
        platform: Option<run::PlatformChoice>,
        /// The sandbox's root file system (read-only from the host).
        #[arg(long, default_value = "/")]
        root: std::path::PathBuf,
        /// Print counters to stderr at exit (a line starting `ringfence-stats:`).
        #[arg(long)]
        stats: bool,
        /// Share a host directory or file: HOST:SANDBOX, read-write, or HOST:SANDBOX:ro.
        #[arg(short = 'v', long = "volume", value_name = "HOST:SANDBOX[:ro]", value_parser = run::parse_volume)]
        volumes: Vec<sentry::vfs::MountSpec>,
        /// Make the root read-only: writes fail with EROFS instead of staying in memory.
        #[arg(long)]
        read_only: bool,
        /// The program and its arguments.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        program: Vec<String>,
    },
    /// Tell which platform and KVM backend this host offers.
    Platform,
    /// Run a small built-in program at guest ring 3 on the KVM platform: it prints a line
    /// through the sandbox and makes N syscalls; report what they cost.
    Check {
        /// Syscalls the program makes.
        #[arg(long, default_value_t = 10_000)]
        syscalls: u64,
        /// Force the KVM backend (`hardware` or `software`) instead of detecting it.
        #[arg(long)]
        backend: Option<String>,
    },
}

/// What `ringfence do` runs on here when no platform is given, for its help text.
fn default_platform() -> String {
    if std::path::Path::new("/dev/kvm").exists() {
        format!(
            "On this host the default platform is kvm, with the {} backend.",
            platform_kvm::Backend::detect()
        )
    } else {
        "On this host the default platform is ptrace (/dev/kvm does not exist).".to_string()
    }
}

fn main() -> ExitCode {
    let command = <Cli as clap::CommandFactory>::command()
        .mut_subcommand("do", |c| c.after_help(default_platform()));
    let cli = match <Cli as clap::FromArgMatches>::from_arg_matches(&command.get_matches()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let filter = std::env::var("RUST_LOG")
        .ok()
        .unwrap_or_else(|| if cli.global.debug { "debug" } else { "warn" }.into());
    let json = cli.global.log_format.as_deref() == Some("json");
    let logs_to_file = log::init(&filter, cli.global.log.as_deref(), json);
    let result = match cli.command {
        Command::Standard(cmd) => oci::standard(&cli.global, cmd).map_err(Into::into),
        Command::Common(cmd) => oci::common(&cli.global, *cmd).map_err(Into::into),
        Command::Do {
            platform,
            root,
            stats,
            volumes,
            read_only,
            program,
        } => run::run(
            platform,
            &run::Tree {
                root,
                mounts: volumes,
                readonly_root: read_only,
            },
            stats,
            program,
        ),
        Command::Platform => check::platform(),
        Command::Check { syscalls, backend } => check::run(syscalls, backend.as_deref()),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // Engines read the error back from the log file (containerd's shim) or stderr.
            if logs_to_file {
                tracing::error!("{e}");
            }
            eprintln!("ringfence: {e}");
            let mut source = e.source();
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            ExitCode::from(run::failure_code(e.as_ref()))
        }
    }
}
