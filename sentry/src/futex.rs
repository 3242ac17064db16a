//! Futexes: threads sleeping on a word of application memory until another wakes them.
//!
//! Private futexes are keyed by address space and address; shared ones by the page of the
//! memory file and the offset in it, so processes sharing memory meet on the same key.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use abi::Errno;

use crate::signal::{ThreadSignals, Wake};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    Private { space: usize, addr: u64 },
    Shared { offset: u64 },
}

struct Waiter {
    thread: Arc<ThreadSignals>,
    bitset: u32,
}

#[derive(Default)]
pub struct Futexes {
    table: Mutex<HashMap<Key, Vec<Waiter>>>,
}

impl Futexes {
    /// Sleep on `key` if `still_expected()` says the word still holds the expected value
    /// (checked under the table lock, so no wake between the check and the sleep is lost).
    pub fn wait(
        &self,
        key: Key,
        thread: &Arc<ThreadSignals>,
        bitset: u32,
        deadline: Option<Instant>,
        still_expected: impl FnOnce() -> Result<bool, Errno>,
    ) -> Result<(), Errno> {
        if bitset == 0 {
            return Err(Errno::EINVAL);
        }
        {
            let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
            if !still_expected()? {
                return Err(Errno::EAGAIN);
            }
            thread.lock().futex_woken = false;
            table.entry(key).or_default().push(Waiter {
                thread: thread.clone(),
                bitset,
            });
        }
        let wake = thread.wait_futex(deadline);
        if wake != Wake::Woken {
            let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(list) = table.get_mut(&key) {
                list.retain(|w| !Arc::ptr_eq(&w.thread, thread));
                if list.is_empty() {
                    table.remove(&key);
                }
            }
            // A wake that raced with the timeout or signal still counts.
            if thread.lock().futex_woken {
                return Ok(());
            }
        }
        match wake {
            Wake::Woken => Ok(()),
            Wake::TimedOut => Err(Errno::ETIMEDOUT),
            Wake::Interrupted => Err(Errno::new(512)), // ERESTARTSYS
        }
    }

    /// Wake up to `n` waiters on `key` whose bitset intersects `bitset`.
    pub fn wake(&self, key: Key, n: u32, bitset: u32) -> u32 {
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        Self::wake_locked(&mut table, key, n, bitset)
    }

    fn wake_locked(table: &mut HashMap<Key, Vec<Waiter>>, key: Key, n: u32, bitset: u32) -> u32 {
        let Some(list) = table.get_mut(&key) else {
            return 0;
        };
        let mut woken = 0;
        list.retain(|w| {
            if woken < n && w.bitset & bitset != 0 {
                woken += 1;
                w.thread.futex_wake();
                false
            } else {
                true
            }
        });
        if list.is_empty() {
            table.remove(&key);
        }
        woken
    }

    /// Wake `n` waiters of `from` and move up to `requeue` others to `to`, if
    /// `still_expected()` (CMP_REQUEUE's check) holds.
    pub fn requeue(
        &self,
        from: Key,
        to: Key,
        n: u32,
        requeue: u32,
        still_expected: impl FnOnce() -> Result<bool, Errno>,
    ) -> Result<u32, Errno> {
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        if !still_expected()? {
            return Err(Errno::EAGAIN);
        }
        let woken = Self::wake_locked(&mut table, from, n, u32::MAX);
        let mut moved = Vec::new();
        if let Some(list) = table.get_mut(&from) {
            let take = (requeue as usize).min(list.len());
            moved.extend(list.drain(..take));
            if list.is_empty() {
                table.remove(&from);
            }
        }
        let count = moved.len() as u32;
        if !moved.is_empty() {
            table.entry(to).or_default().extend(moved);
        }
        Ok(woken + count)
    }
}
