//! What the runtime holds on a running sandbox: a way to signal its processes and to start
//! new ones in it (`ringfence exec`).

use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Weak};

use super::{ProcessSpec, SandboxError, start_process, stdio_from};
use crate::kernel::Kernel;
use crate::platform::Platform;
use crate::task::ExitStatus;
use crate::vfs::Creds;

/// A process to start in a running sandbox.
pub struct ExecRequest {
    pub argv: Vec<String>,
    pub envp: Vec<String>,
    /// Working directory inside the sandbox; it must exist.
    pub cwd: String,
    pub user: Creds,
    pub umask: Option<u32>,
    /// Resource limits to set: (resource, soft, hard).
    pub rlimits: Vec<(u32, u64, u64)>,
    /// Host descriptors for its standard input, output and error.
    pub stdio: [OwnedFd; 3],
}

/// A process started by [`Signaller::exec`].
pub struct Execution {
    /// Its process id in the sandbox.
    pub pid: i32,
    /// Joins with its exit status.
    pub done: std::thread::JoinHandle<ExitStatus>,
}

type SignalFn = dyn Fn(i32, i32) + Send + Sync;
type ExecFn = dyn Fn(ExecRequest) -> Result<Execution, SandboxError> + Send + Sync;

/// Sends signals from outside to the sandbox's processes (SIGINT, SIGTERM to `ringfence`
/// reach the program) and starts new processes in it.
#[derive(Clone)]
pub struct Signaller {
    first: i32,
    signal: Arc<SignalFn>,
    exec: Arc<ExecFn>,
}

impl Signaller {
    /// The handle of the sandbox run by `kernel`, whose first process is `first`. It holds
    /// the kernel weakly: once the sandbox is gone, signals go nowhere and exec fails.
    pub(super) fn new<P: Platform>(kernel: &Arc<Kernel<P>>, first: i32) -> Signaller {
        let target = Arc::downgrade(kernel);
        let signal = move |pid: i32, sig: i32| {
            if let Some(kernel) = target.upgrade() {
                let mut info = abi::SigInfo::kill(sig, 0, 0);
                info.si_code = abi::signal::SI_USER;
                kernel.signal_process(pid, info);
            }
        };
        let target: Weak<Kernel<P>> = Arc::downgrade(kernel);
        let exec = move |req: ExecRequest| {
            let kernel = target.upgrade().ok_or(SandboxError::Ended)?;
            spawn(&kernel, req)
        };
        Signaller {
            first,
            signal: Arc::new(signal),
            exec: Arc::new(exec),
        }
    }

    /// Signals the sandbox's first process.
    pub fn send(&self, sig: i32) {
        (self.signal)(self.first, sig)
    }

    /// Signals process `pid` of the sandbox.
    pub fn send_to(&self, pid: i32, sig: i32) {
        (self.signal)(pid, sig)
    }

    /// Starts `req` in the sandbox, on a host thread of its own.
    pub fn exec(&self, req: ExecRequest) -> Result<Execution, SandboxError> {
        (self.exec)(req)
    }
}

fn spawn<P: Platform>(
    kernel: &Arc<Kernel<P>>,
    req: ExecRequest,
) -> Result<Execution, SandboxError> {
    let [i, o, e] = &req.stdio;
    let fds = stdio_from([i.as_fd(), o.as_fd(), e.as_fd()]).map_err(SandboxError::Stdio)?;
    let spec = ProcessSpec {
        argv: &req.argv,
        envp: &req.envp,
        cwd: &req.cwd,
        user: &req.user,
        umask: req.umask,
        rlimits: &req.rlimits,
        cwd_must_exist: true,
    };
    let mut task = start_process(kernel, &spec, fds)?;
    let pid = task.tgid;
    let done = std::thread::Builder::new()
        .name(format!("exec-{pid}"))
        .spawn(move || task.run_to_end())
        .map_err(SandboxError::Stdio)?;
    Ok(Execution { pid, done })
}
