//! Pipes: a bounded byte buffer between a read end and a write end.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use abi::Errno;
use abi::poll::PollEvents;

use crate::vfs::{FileOps, FileStat, OpenFlags, S_IFIFO};
use crate::wait::{WaitQueue, block_on};

/// Linux's default pipe capacity.
pub const CAPACITY: usize = 65536;
/// Writes up to this size are atomic.
pub const PIPE_BUF: usize = 4096;

struct State {
    buf: VecDeque<u8>,
    readers: usize,
    writers: usize,
}

/// The shared buffer of one pipe.
pub struct Pipe {
    state: Mutex<State>,
    queue: WaitQueue,
    ino: u64,
}

static NEXT_INO: AtomicU64 = AtomicU64::new(1);

impl Pipe {
    /// A new pipe and its two ends.
    pub fn open() -> (PipeReader, PipeWriter) {
        let pipe = Arc::new(Pipe {
            state: Mutex::new(State {
                buf: VecDeque::new(),
                readers: 1,
                writers: 1,
            }),
            queue: WaitQueue::default(),
            ino: NEXT_INO.fetch_add(1, Ordering::Relaxed),
        });
        (PipeReader(pipe.clone()), PipeWriter(pipe))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn stat(&self) -> FileStat {
        FileStat::anonymous(S_IFIFO | 0o600, self.ino, PIPE_BUF as u32)
    }
}

pub struct PipeReader(Arc<Pipe>);
pub struct PipeWriter(Arc<Pipe>);

impl FileOps for PipeReader {
    fn read(&self, buf: &mut [u8], _pos: &mut i64, flags: OpenFlags) -> Result<usize, Errno> {
        if buf.is_empty() {
            return Ok(0);
        }
        let pipe = &self.0;
        loop {
            {
                let mut s = pipe.lock();
                if !s.buf.is_empty() {
                    let n = buf.len().min(s.buf.len());
                    for (dst, src) in buf.iter_mut().zip(s.buf.drain(..n)) {
                        *dst = src;
                    }
                    drop(s);
                    pipe.queue.notify();
                    return Ok(n);
                }
                if s.writers == 0 {
                    return Ok(0);
                }
            }
            if flags.contains(OpenFlags::NONBLOCK) {
                return Err(Errno::EAGAIN);
            }
            block_on(&[&pipe.queue], None, || {
                let s = pipe.lock();
                !s.buf.is_empty() || s.writers == 0
            })?;
        }
    }

    fn stat(&self) -> Result<FileStat, Errno> {
        Ok(self.0.stat())
    }

    fn readiness(&self, mask: PollEvents) -> PollEvents {
        let s = self.0.lock();
        let mut ready = PollEvents::empty();
        if !s.buf.is_empty() {
            ready |= PollEvents::POLLIN | PollEvents::POLLRDNORM;
        }
        if s.writers == 0 {
            ready |= PollEvents::POLLHUP;
        }
        ready & (mask | PollEvents::POLLHUP | PollEvents::POLLERR)
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.0.queue)
    }

    fn release(&self) {
        self.0.lock().readers -= 1;
        self.0.queue.notify();
    }
}

impl FileOps for PipeWriter {
    fn write(&self, data: &[u8], _pos: &mut i64, flags: OpenFlags) -> Result<usize, Errno> {
        let pipe = &self.0;
        let mut written = 0;
        loop {
            {
                let mut s = pipe.lock();
                if s.readers == 0 {
                    return if written > 0 {
                        Ok(written)
                    } else {
                        Err(Errno::EPIPE)
                    };
                }
                let room = CAPACITY - s.buf.len();
                let left = data.len() - written;
                // Small writes go in whole or wait; large ones go in as room allows.
                let fits = if data.len() <= PIPE_BUF {
                    room >= left
                } else {
                    room > 0
                };
                if fits {
                    let n = left.min(room);
                    s.buf.extend(&data[written..written + n]);
                    written += n;
                    drop(s);
                    pipe.queue.notify();
                    if written == data.len() {
                        return Ok(written);
                    }
                    continue;
                }
            }
            if flags.contains(OpenFlags::NONBLOCK) {
                return if written > 0 {
                    Ok(written)
                } else {
                    Err(Errno::EAGAIN)
                };
            }
            let need = if data.len() <= PIPE_BUF {
                data.len() - written
            } else {
                1
            };
            let waited = block_on(&[&pipe.queue], None, || {
                let s = pipe.lock();
                s.readers == 0 || CAPACITY - s.buf.len() >= need
            });
            if let Err(e) = waited {
                return if written > 0 { Ok(written) } else { Err(e) };
            }
        }
    }

    fn stat(&self) -> Result<FileStat, Errno> {
        Ok(self.0.stat())
    }

    fn readiness(&self, mask: PollEvents) -> PollEvents {
        let s = self.0.lock();
        let mut ready = PollEvents::empty();
        if CAPACITY - s.buf.len() >= PIPE_BUF {
            ready |= PollEvents::POLLOUT | PollEvents::POLLWRNORM;
        }
        if s.readers == 0 {
            ready |= PollEvents::POLLERR;
        }
        ready & (mask | PollEvents::POLLHUP | PollEvents::POLLERR)
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.0.queue)
    }

    fn release(&self) {
        self.0.lock().writers -= 1;
        self.0.queue.notify();
    }
}

/// An eventfd: a 64-bit counter that reads drain and writes add to.
pub struct EventFd {
    count: Mutex<u64>,
    semaphore: bool,
    queue: WaitQueue,
}

impl EventFd {
    pub fn new(initial: u64, semaphore: bool) -> EventFd {
        EventFd {
            count: Mutex::new(initial),
            semaphore,
            queue: WaitQueue::default(),
        }
    }

    fn count(&self) -> MutexGuard<'_, u64> {
        self.count.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl FileOps for EventFd {
    fn read(&self, buf: &mut [u8], _pos: &mut i64, flags: OpenFlags) -> Result<usize, Errno> {
        if buf.len() < 8 {
            return Err(Errno::EINVAL);
        }
        loop {
            {
                let mut c = self.count();
                if *c > 0 {
                    let value = if self.semaphore { 1 } else { *c };
                    *c -= value;
                    buf[..8].copy_from_slice(&value.to_ne_bytes());
                    drop(c);
                    self.queue.notify();
                    return Ok(8);
                }
            }
            if flags.contains(OpenFlags::NONBLOCK) {
                return Err(Errno::EAGAIN);
            }
            block_on(&[&self.queue], None, || *self.count() > 0)?;
        }
    }

    fn write(&self, data: &[u8], _pos: &mut i64, flags: OpenFlags) -> Result<usize, Errno> {
        let Some(bytes) = data.get(..8) else {
            return Err(Errno::EINVAL);
        };
        let add = u64::from_ne_bytes(bytes.try_into().map_err(|_| Errno::EINVAL)?);
        if add == u64::MAX {
            return Err(Errno::EINVAL);
        }
        loop {
            {
                let mut c = self.count();
                if u64::MAX - 1 - *c >= add {
                    *c += add;
                    drop(c);
                    self.queue.notify();
                    return Ok(8);
                }
            }
            if flags.contains(OpenFlags::NONBLOCK) {
                return Err(Errno::EAGAIN);
            }
            block_on(&[&self.queue], None, || u64::MAX - 1 - *self.count() >= add)?;
        }
    }

    fn stat(&self) -> Result<FileStat, Errno> {
        Ok(FileStat::anonymous(0o600, 0, 4096))
    }

    fn readiness(&self, mask: PollEvents) -> PollEvents {
        let c = *self.count();
        let mut ready = PollEvents::empty();
        if c > 0 {
            ready |= PollEvents::POLLIN | PollEvents::POLLRDNORM;
        }
        if c < u64::MAX - 1 {
            ready |= PollEvents::POLLOUT | PollEvents::POLLWRNORM;
        }
        ready & mask
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.queue)
    }
}
