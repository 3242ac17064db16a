//! epoll instances: an interest list of descriptors, reported when ready (level-triggered;
//! EPOLLET is treated as level-triggered, EPOLLONESHOT disables an entry once reported).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use abi::Errno;
use abi::poll::PollEvents;

use crate::vfs::{FileOps, FileStat, OpenFile};
use crate::wait::WaitQueue;

const EPOLLONESHOT: u32 = 1 << 30;
const EPOLLET: u32 = 1 << 31;
const EPOLLEXCLUSIVE: u32 = 1 << 28;
const EPOLLWAKEUP: u32 = 1 << 29;
const EPOLLRDHUP: u32 = 0x2000;

struct Interest {
    file: Weak<OpenFile>,
    events: u32,
    data: u64,
    disabled: bool,
}

#[derive(Default)]
pub struct Epoll {
    interest: Mutex<BTreeMap<i32, Interest>>,
    /// Notified when the interest list changes.
    queue: WaitQueue,
}

pub const EPOLL_CTL_ADD: i32 = 1;
pub const EPOLL_CTL_DEL: i32 = 2;
pub const EPOLL_CTL_MOD: i32 = 3;

fn poll_mask(events: u32) -> PollEvents {
    PollEvents::from_bits_truncate((events & 0xffff) as i16)
}

impl Epoll {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<i32, Interest>> {
        self.interest.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `epoll_ctl`.
    pub fn ctl(
        &self,
        op: i32,
        fd: i32,
        file: &Arc<OpenFile>,
        events: u32,
        data: u64,
    ) -> Result<(), Errno> {
        let known = 0xffff | EPOLLRDHUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE | EPOLLWAKEUP;
        let mut list = self.lock();
        match op {
            EPOLL_CTL_ADD => {
                if list.contains_key(&fd) {
                    return Err(Errno::EEXIST);
                }
                list.insert(
                    fd,
                    Interest {
                        file: Arc::downgrade(file),
                        events: events & known,
                        data,
                        disabled: false,
                    },
                );
            }
            EPOLL_CTL_MOD => {
                let entry = list.get_mut(&fd).ok_or(Errno::ENOENT)?;
                entry.events = events & known;
                entry.data = data;
                entry.disabled = false;
            }
            EPOLL_CTL_DEL => {
                list.remove(&fd).ok_or(Errno::ENOENT)?;
            }
            _ => return Err(Errno::EINVAL),
        }
        drop(list);
        self.queue.notify();
        Ok(())
    }

    /// The ready entries, at most `max`, as (events, data).
    pub fn ready(&self, max: usize) -> Vec<(u32, u64)> {
        let mut list = self.lock();
        let mut out = Vec::new();
        list.retain(|_, i| i.file.strong_count() > 0);
        for entry in list.values_mut() {
            if out.len() == max {
                break;
            }
            if entry.disabled {
                continue;
            }
            let Some(file) = entry.file.upgrade() else {
                continue;
            };
            let got = file.readiness(poll_mask(entry.events));
            if !got.is_empty() {
                out.push((got.bits() as u16 as u32, entry.data));
                if entry.events & EPOLLONESHOT != 0 {
                    entry.disabled = true;
                }
            }
        }
        out
    }

    /// The files whose queues a waiter must sleep on (kept alive while it waits).
    pub fn files(&self) -> Vec<Arc<OpenFile>> {
        self.lock()
            .values()
            .filter_map(|i| i.file.upgrade())
            .collect()
    }

    pub fn queue(&self) -> &WaitQueue {
        &self.queue
    }
}

/// The epoll instance as an open file (it can itself be polled).
pub struct EpollFile(pub Arc<Epoll>);

impl FileOps for EpollFile {
    fn stat(&self) -> Result<FileStat, Errno> {
        Ok(FileStat::anonymous(0o600, 0, 4096))
    }

    fn readiness(&self, mask: PollEvents) -> PollEvents {
        if self.0.ready(1).is_empty() {
            PollEvents::empty()
        } else {
            mask & PollEvents::POLLIN
        }
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.0.queue)
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}
