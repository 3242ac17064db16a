//! The stub thread: the one host thread that forks stub processes and traces their leaders
//! (see the module docs for why one thread, and what else may talk to stubs).

use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};

use super::error::{Error, Result};
use super::stub;
use super::stub_asm::Entry;
use super::sys::{self, Pid};
use super::tracee;

enum Request {
    /// Fork a new stub; its leader pid.
    Spawn(SyncSender<Result<Pid>>),
    /// Run a system call in a leader.
    Syscall {
        leader: Pid,
        entry: Entry,
        nr: u64,
        args: [u64; 6],
        reply: SyncSender<Result<i64>>,
    },
    /// Kill and reap a leader.
    Release { leader: Pid, reply: SyncSender<()> },
}

/// A handle on the stub thread; the thread ends when the last handle is dropped.
pub struct Master {
    requests: Sender<Request>,
}

impl Master {
    /// Start the stub thread; `memfd` is the memory file every stub maps.
    pub fn start(memfd: OwnedFd) -> Result<Arc<Master>> {
        let (requests, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("rf-ptrace-stubs".into())
            .spawn(move || serve(rx, memfd))
            .map_err(Error::host("spawning the ptrace stub thread"))?;
        Ok(Arc::new(Master { requests }))
    }

    fn ask<T>(&self, request: impl FnOnce(SyncSender<T>) -> Request) -> Result<T> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.requests
            .send(request(reply))
            .map_err(|_| Error::StubThreadGone)?;
        answer.recv().map_err(|_| Error::StubThreadGone)
    }

    /// Fork a stub process, stopped and ready; returns its leader's pid.
    pub fn spawn(&self) -> Result<Pid> {
        self.ask(Request::Spawn)?
    }

    /// Make `leader` run `entry` with system call `nr`; returns `rax`.
    pub fn syscall(&self, leader: Pid, entry: Entry, nr: u64, args: [u64; 6]) -> Result<i64> {
        self.ask(|reply| Request::Syscall {
            leader,
            entry,
            nr,
            args,
            reply,
        })?
    }

    /// Kill and reap `leader` (its tracees die with it: `PR_SET_PDEATHSIG`).
    pub fn release(&self, leader: Pid) {
        let _ = self.ask(|reply| Request::Release { leader, reply });
    }
}

/// The stub thread's loop.
fn serve(requests: Receiver<Request>, memfd: OwnedFd) {
    // Forked stubs inherit the mask; they reset it once nothing of the sentry can run.
    sys::block_all_signals();
    let mut leaders: HashMap<Pid, OwnedFd> = HashMap::new();
    for request in requests {
        match request {
            Request::Spawn(reply) => {
                let result =
                    stub::spawn(memfd.as_raw_fd()).and_then(|pid| match sys::pidfd_open(pid) {
                        Ok(pidfd) => {
                            leaders.insert(pid, pidfd);
                            Ok(pid)
                        }
                        Err(source) => {
                            kill_unregistered(pid);
                            Err(Error::Host {
                                op: "pidfd_open",
                                source,
                            })
                        }
                    });
                let _ = reply.send(result);
            }
            Request::Syscall {
                leader,
                entry,
                nr,
                args,
                reply,
            } => {
                let result = if leaders.contains_key(&leader) {
                    tracee::inject(leader, entry, nr, args)
                } else {
                    Err(Error::Released)
                };
                if let Err(Error::StubDied { .. }) = result {
                    // Its exit status was collected on the way: the pid is free again.
                    leaders.remove(&leader);
                }
                let _ = reply.send(result);
            }
            Request::Release { leader, reply } => {
                if let Some(pidfd) = leaders.remove(&leader) {
                    kill(&pidfd);
                }
                let _ = reply.send(());
            }
        }
    }
    for pidfd in leaders.values() {
        kill(pidfd);
    }
}

fn kill(pidfd: &OwnedFd) {
    let _ = sys::pidfd_signal(pidfd.as_raw_fd(), libc::SIGKILL);
    sys::reap(pidfd);
}

/// Kill a stub we could not take a pidfd for (still our unreaped child).
fn kill_unregistered(pid: Pid) {
    let _ = sys::kill(pid, libc::SIGKILL);
    while matches!(sys::wait(pid), Ok(sys::WaitStatus::Stopped { .. })) {}
}
