//! Run one program to completion under a time limit, keeping its output, wall time and
//! peak RSS (from `wait4`'s rusage, which covers the descendants it waited for).

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

pub struct Finished {
    /// The exit code, or `None` when a signal ended the program.
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub timed_out: bool,
    pub stdout: String,
    pub stderr: String,
    /// From just before the spawn to the exit.
    pub wall: Duration,
    pub peak_rss_kib: u64,
}

impl Finished {
    /// Why the run counts as failed, if it does: `exit N`, `signal N` or a time-out.
    pub fn failure(&self) -> Option<String> {
        if self.timed_out {
            Some("timed out".into())
        } else if let Some(sig) = self.signal {
            Some(format!("killed by signal {sig}"))
        } else {
            self.code.filter(|c| *c != 0).map(|c| format!("exit {c}"))
        }
    }
}

pub fn run(cmd: &mut Command, limit: Duration) -> std::io::Result<Finished> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn()?;
    let pid = child.id() as libc::pid_t;
    let stdout = collect(child.stdout.take());
    let stderr = collect(child.stderr.take());

    // The watchdog may only kill `pid` while it is still our unreaped child: it is joined
    // before the `wait4` below reaps it, and the `waitid` before that leaves it a zombie.
    let (done, stop) = mpsc::channel::<()>();
    let watchdog = thread::spawn(move || {
        if stop.recv_timeout(limit) == Err(mpsc::RecvTimeoutError::Timeout) {
            // SAFETY: `pid` is a child this process has not reaped yet (see above).
            unsafe { libc::kill(pid, libc::SIGKILL) };
            return true;
        }
        false
    });
    loop {
        // SAFETY: a zeroed siginfo_t is a valid output buffer for waitid.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waits for our own child without reaping it (WNOWAIT); `info` is writable.
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if rc == 0 {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    let wall = start.elapsed();
    let _ = done.send(());
    let timed_out = watchdog.join().unwrap_or(false);

    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid output buffer.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: reaps our own exited child; both out-pointers are valid.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    if reaped != pid {
        return Err(std::io::Error::last_os_error());
    }
    drop(child);
    let (code, signal) = if libc::WIFEXITED(status) {
        (Some(libc::WEXITSTATUS(status)), None)
    } else {
        (None, Some(libc::WTERMSIG(status)))
    };
    Ok(Finished {
        code,
        signal,
        timed_out,
        stdout: stdout.finish(),
        stderr: stderr.finish(),
        wall,
        peak_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
    })
}

/// A pipe drained on its own thread, so a chatty program cannot block on a full pipe.
struct Collector(mpsc::Receiver<String>);

impl Collector {
    /// What was read; given up on (empty) if a grandchild still holds the pipe open.
    fn finish(self) -> String {
        self.0
            .recv_timeout(Duration::from_secs(5))
            .unwrap_or_default()
    }
}

fn collect(pipe: Option<impl Read + Send + 'static>) -> Collector {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut bytes);
        }
        let _ = tx.send(String::from_utf8_lossy(&bytes).into_owned());
    });
    Collector(rx)
}
