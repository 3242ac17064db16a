//! One sandbox: a kernel on a platform, running one program to its end.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use abi::Errno;

use crate::exec::{self, Bytes, ExecArgs, Image};
use crate::kernel::{ImageSource, Kernel};
use crate::mm::MemoryManager;
use crate::platform::{Platform, PlatformError};
use crate::task::{ExitStatus, Files, Task};

/// What to run.
pub struct Options {
    /// The sandbox's root directory on the host.
    pub root: PathBuf,
    /// The program and its arguments (`argv[0]` is the program as given).
    pub argv: Vec<String>,
    /// The environment.
    pub envp: Vec<String>,
    /// The working directory inside the sandbox (absolute).
    pub cwd: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("{program}: {errno}")]
    Exec { program: String, errno: Errno },
    #[error("no program given")]
    NoProgram,
    #[error("cannot set up standard streams: {0}")]
    Stdio(#[source] std::io::Error),
    #[error(transparent)]
    Platform(#[from] PlatformError),
}

/// How the run went.
pub struct Outcome {
    pub status: ExitStatus,
    /// `key=value` counters, then the top syscalls, for `--stats`.
    pub stats: String,
}

/// Look a path up in the sandbox root. Symlinks are not followed safely yet: this is the
/// VFS's job.
fn host_path(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

/// Executables read from the host root. Symlinks are not confined to the root yet: the
/// VFS replaces this.
struct HostImages {
    root: PathBuf,
}

impl ImageSource for HostImages {
    fn open(&self, cwd: &str, path: &str) -> Result<(Arc<dyn Image>, String), Errno> {
        let abs = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("{}/{path}", cwd.trim_end_matches('/'))
        };
        let host = host_path(&self.root, &abs);
        if host.is_dir() {
            return Err(Errno::EACCES);
        }
        let bytes =
            std::fs::read(host).map_err(|e| e.raw_os_error().map_or(Errno::EIO, Errno::new))?;
        Ok((Arc::new(Bytes(bytes)), abs))
    }
}

/// Find `program` as execvp would: as given when it holds a slash, else along PATH.
fn resolve(root: &Path, cwd: &str, program: &str, envp: &[String]) -> Option<String> {
    if program.starts_with('/') {
        return Some(program.to_string());
    }
    if program.contains('/') {
        return Some(format!("{}/{program}", cwd.trim_end_matches('/')));
    }
    let path = envp
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/bin:/usr/bin:/bin");
    path.split(':')
        .filter(|d| !d.is_empty())
        .map(|d| format!("{}/{program}", d.trim_end_matches('/')))
        .find(|p| host_path(root, p).is_file())
}

/// Sends signals from outside to the sandbox's first process (SIGINT, SIGTERM to
/// `ringfence` reach the program).
#[derive(Clone)]
pub struct Signaller(Arc<dyn Fn(i32) + Send + Sync>);

impl Signaller {
    pub fn send(&self, sig: i32) {
        (self.0)(sig)
    }
}

/// Run the program of `opts` on `platform` until it exits; `started` receives a way to
/// signal it once it runs.
pub fn run<P: Platform>(
    platform: P,
    opts: &Options,
    started: impl FnOnce(Signaller),
) -> Result<Outcome, SandboxError> {
    let program = opts.argv.first().ok_or(SandboxError::NoProgram)?;
    let exec_err = |errno| SandboxError::Exec {
        program: program.clone(),
        errno,
    };
    let path =
        resolve(&opts.root, &opts.cwd, program, &opts.envp).ok_or(exec_err(Errno::ENOENT))?;
    let kernel = Kernel::new(
        platform,
        Box::new(HostImages {
            root: opts.root.clone(),
        }),
    );
    let (image, _) = kernel.images.open(&opts.cwd, &path).map_err(exec_err)?;
    let mut mm =
        MemoryManager::new(kernel.platform.clone(), kernel.frames.clone()).map_err(exec_err)?;
    let argv: Vec<Vec<u8>> = opts.argv.iter().map(|a| a.clone().into_bytes()).collect();
    let envp: Vec<Vec<u8>> = opts.envp.iter().map(|e| e.clone().into_bytes()).collect();
    let open_interp = |p: &str| kernel.images.open("/", p).map(|(image, _)| image);
    let regs = exec::load(
        &mut mm,
        image,
        &ExecArgs {
            argv: &argv,
            envp: &envp,
            execfn: path.as_bytes(),
            open_interp: &open_interp,
        },
    )
    .map_err(exec_err)?;
    let files = Files::stdio().map_err(SandboxError::Stdio)?;
    let mut task = Task::new(kernel.clone(), mm, regs, files);
    task.cwd = opts.cwd.clone();
    let (target, pid) = (Arc::downgrade(&kernel), task.tgid);
    started(Signaller(Arc::new(move |sig| {
        if let Some(kernel) = target.upgrade() {
            let mut info = abi::SigInfo::kill(sig, 0, 0);
            info.si_code = abi::signal::SI_USER;
            kernel.signal_process(pid, info);
        }
    })));
    let status = task.run()?;
    drop(task);
    Ok(Outcome {
        status,
        stats: stats_line(&kernel),
    })
}

fn stats_line<P: Platform>(kernel: &Kernel<P>) -> String {
    let s = &kernel.stats;
    let mut line = format!(
        "syscalls={} page_faults={} enosys={} {}",
        s.syscalls.load(Ordering::Relaxed),
        s.page_faults.load(Ordering::Relaxed),
        s.enosys.load(Ordering::Relaxed),
        kernel.platform.counters(),
    );
    let top: Vec<String> = s
        .top_syscalls(8)
        .into_iter()
        .map(|(nr, n)| format!("{}:{n}", crate::syscalls::name(nr).unwrap_or("unknown")))
        .collect();
    if !top.is_empty() {
        line.push_str(" top=");
        line.push_str(&top.join(","));
    }
    line
}
