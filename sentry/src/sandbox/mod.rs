//! One sandbox: a kernel on a platform, running one program to its end, and whatever else
//! is started in it from outside while it runs (`ringfence exec`).

mod handle;

pub use handle::{ExecRequest, Execution, Signaller};

use std::os::fd::{AsFd, BorrowedFd};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use abi::Errno;

use crate::exec::{self, ExecArgs};
use crate::host::HostStream;
use crate::kernel::Kernel;
use crate::mm::MemoryManager;
use crate::platform::{Platform, PlatformError};
use crate::task::{ExitStatus, Task};
use crate::vfs::{self, At, FdTable, FsContext, OpenFile, OpenFlags, Vfs};

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
    /// The sandbox's host name (uname's nodename); "ringfence" by default.
    pub hostname: Option<String>,
    /// Changes to the root fail with `EROFS` (else they stay in the sandbox's memory).
    pub readonly_root: bool,
    /// Bind mounts and tmpfs instances, in order, beyond the sandbox's own.
    pub mounts: Vec<vfs::MountSpec>,
    /// Who the program runs as (root by default).
    pub user: vfs::Creds,
    /// The program's umask (022 by default).
    pub umask: Option<u32>,
    /// Resource limits to set: (resource, soft, hard).
    pub rlimits: Vec<(u32, u64, u64)>,
    /// Descriptors 3 .. 3 + this many of the calling process also become the program's
    /// (runc's `--preserve-fds`).
    pub preserve_fds: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("{program}: {errno}")]
    Exec { program: String, errno: Errno },
    #[error("no program given")]
    NoProgram,
    #[error("the sandbox has ended")]
    Ended,
    #[error("resource limit {resource}: {errno}")]
    Rlimit { resource: u32, errno: Errno },
    #[error("working directory {cwd}: {errno}")]
    Cwd { cwd: String, errno: Errno },
    #[error("cannot set up standard streams: {0}")]
    Stdio(#[source] std::io::Error),
    #[error(transparent)]
    FileSystem(#[from] vfs::SandboxError),
    #[error(transparent)]
    Platform(#[from] PlatformError),
}

/// How the run went.
pub struct Outcome {
    pub status: ExitStatus,
    /// `key=value` counters, then the top syscalls, for `--stats`.
    pub stats: String,
}

/// Find `program` as execvp would: as given when it holds a slash, else along PATH.
fn resolve(vfs: &Vfs, ctx: &FsContext, program: &str, envp: &[String]) -> Option<String> {
    if program.contains('/') {
        return Some(program.to_string());
    }
    let path = envp
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/bin:/usr/bin:/bin");
    path.split(':')
        .filter(|d| !d.is_empty())
        .map(|d| format!("{}/{program}", d.trim_end_matches('/')))
        .find(|p| {
            vfs.stat(ctx, At::Cwd, p.as_bytes(), 0)
                .is_ok_and(|st| st.file_type() == Some(vfs::FileType::Regular))
        })
}

/// The caller's stdin, stdout and stderr as descriptors 0, 1, 2.
fn stdio() -> std::io::Result<FdTable> {
    stdio_from([
        std::io::stdin().as_fd(),
        std::io::stdout().as_fd(),
        std::io::stderr().as_fd(),
    ])
}

/// Host descriptors as a new process's 0, 1 and 2 (read-only, write-only, write-only).
fn stdio_from(streams: [BorrowedFd<'_>; 3]) -> std::io::Result<FdTable> {
    let fds = FdTable::new();
    let modes = [OpenFlags::RDONLY, OpenFlags::WRONLY, OpenFlags::WRONLY];
    for (fd, flags) in streams.into_iter().zip(modes) {
        let stream = HostStream::from_fd(fd)?;
        let file = Arc::new(OpenFile::new(None, flags, Box::new(stream)));
        fds.insert(file, false)
            .map_err(|e| std::io::Error::from_raw_os_error(e.raw()))?;
    }
    Ok(fds)
}

/// Run the program of `opts` on `platform` until it exits; `started` receives a way to
/// signal it once it runs.
pub fn run<P: Platform>(
    platform: P,
    opts: &Options,
    started: impl FnOnce(Signaller),
) -> Result<Outcome, SandboxError> {
    let vfs = Arc::new(Vfs::new_sandbox(&opts.root, &opts.mounts)?);
    let kernel = Kernel::new(platform, vfs.clone());
    if let Some(name) = &opts.hostname {
        kernel.set_hostname(name);
    }
    let fds = stdio().map_err(SandboxError::Stdio)?;
    for fd in 3..3 + opts.preserve_fds {
        let (stream, read, write) =
            HostStream::inherited(fd as i32).map_err(SandboxError::Stdio)?;
        let flags = match (read, write) {
            (true, true) => OpenFlags::RDWR,
            (false, true) => OpenFlags::WRONLY,
            _ => OpenFlags::RDONLY,
        };
        let file = Arc::new(OpenFile::new(None, flags, Box::new(stream)));
        fds.insert(file, false)
            .map_err(|e| SandboxError::Stdio(std::io::Error::from_raw_os_error(e.raw())))?;
    }
    let spec = ProcessSpec {
        argv: &opts.argv,
        envp: &opts.envp,
        cwd: &opts.cwd,
        user: &opts.user,
        umask: opts.umask,
        rlimits: &opts.rlimits,
        // A working directory missing from the sandbox leaves the first program at the root.
        cwd_must_exist: false,
    };
    let mut task = start_process(&kernel, &spec, fds)?;
    mount_proc(&kernel, &vfs.new_context())?;
    vfs.apply_readonly(opts.readonly_root, &opts.mounts)?;
    started(Signaller::new(&kernel, task.tgid));
    let status = task.run()?;
    drop(task);
    Ok(Outcome {
        status,
        stats: stats_line(&kernel),
    })
}

/// A process to start: the first one, or one `ringfence exec` asks for.
struct ProcessSpec<'a> {
    argv: &'a [String],
    envp: &'a [String],
    cwd: &'a str,
    user: &'a vfs::Creds,
    umask: Option<u32>,
    rlimits: &'a [(u32, u64, u64)],
    /// Whether a missing `cwd` is an error (else the process starts at the root).
    cwd_must_exist: bool,
}

/// Loads the program of `spec` into a new address space and makes it a process with no
/// parent (as PID 1, or a process entering the sandbox from outside), ready to run.
fn start_process<P: Platform>(
    kernel: &Arc<Kernel<P>>,
    spec: &ProcessSpec<'_>,
    fds: FdTable,
) -> Result<Task<P>, SandboxError> {
    let program = spec.argv.first().ok_or(SandboxError::NoProgram)?;
    let mut limits = crate::task::rlimits::Rlimits::default();
    let exec_err = |errno| SandboxError::Exec {
        program: program.clone(),
        errno,
    };
    let vfs = &kernel.vfs;
    let mut ctx = vfs.new_context();
    ctx.creds = spec.user.clone();
    if let Some(mask) = spec.umask {
        ctx.umask = mask & 0o777;
    }
    let mut cwd_ctx = ctx.clone();
    match vfs.chdir(&mut cwd_ctx, At::Cwd, spec.cwd.as_bytes()) {
        Ok(()) => ctx = cwd_ctx,
        Err(errno) if spec.cwd_must_exist => {
            return Err(SandboxError::Cwd {
                cwd: spec.cwd.to_string(),
                errno,
            });
        }
        Err(_) => {}
    }
    let path = resolve(vfs, &ctx, program, spec.envp).ok_or(exec_err(Errno::ENOENT))?;
    let image = exec::open_executable(vfs, &ctx, path.as_bytes()).map_err(exec_err)?;
    let mut mm =
        MemoryManager::new(kernel.platform.clone(), kernel.frames.clone()).map_err(exec_err)?;
    let argv: Vec<Vec<u8>> = spec.argv.iter().map(|a| a.clone().into_bytes()).collect();
    let envp: Vec<Vec<u8>> = spec.envp.iter().map(|e| e.clone().into_bytes()).collect();
    let open_interp = |p: &str| exec::open_executable(vfs, &ctx, p.as_bytes());
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
    let exe = exec::resolved_path(vfs, &ctx, path.as_bytes());
    for &(resource, soft, hard) in spec.rlimits {
        let limit_err = |errno| SandboxError::Rlimit { resource, errno };
        if resource == abi::resource::RLIMIT_NOFILE {
            fds.set_limit(soft).map_err(limit_err)?;
        }
        limits.set(resource, soft, hard, true).map_err(limit_err)?;
    }
    let task = Task::new(kernel.clone(), mm, regs, fds, ctx);
    *task.group.limits() = limits;
    task.proc.exec(&task.mm, &exe, &argv, path.as_bytes());
    Ok(task)
}

/// Mount the sandbox's own /proc and /sys (the host's are never shown).
fn mount_proc<P: Platform>(kernel: &Kernel<P>, ctx: &FsContext) -> Result<(), SandboxError> {
    let vfs = &kernel.vfs;
    let _ = vfs.mkdir(ctx, At::Cwd, b"/proc", 0o555);
    let fs = crate::procfs::new(
        kernel.procs.clone(),
        kernel.platform.memory().size(),
        Arc::downgrade(&kernel.vfs),
    );
    vfs.mount(ctx, At::Cwd, b"/proc", fs)
        .map(drop)
        .map_err(|errno| SandboxError::Exec {
            program: "/proc".into(),
            errno,
        })?;
    // And its /sys, read-only as in a container.
    let _ = vfs.mkdir(ctx, At::Cwd, b"/sys", 0o555);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    vfs.mount(ctx, At::Cwd, b"/sys", crate::sysfs::new(cpus))
        .map(|m| m.set_readonly(true))
        .map_err(|errno| SandboxError::Exec {
            program: "/sys".into(),
            errno,
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
