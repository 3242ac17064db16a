//! `futex`: wait, wake, bitsets, requeue and wake-op.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use abi::Errno;

use crate::futex::Key;
use crate::platform::Platform;
use crate::task::Task;

const FUTEX_WAIT: u64 = 0;
const FUTEX_WAKE: u64 = 1;
const FUTEX_REQUEUE: u64 = 3;
const FUTEX_CMP_REQUEUE: u64 = 4;
const FUTEX_WAKE_OP: u64 = 5;
const FUTEX_WAIT_BITSET: u64 = 9;
const FUTEX_WAKE_BITSET: u64 = 10;
const FUTEX_PRIVATE: u64 = 128;
const FUTEX_CLOCK_REALTIME: u64 = 256;

/// The key of the futex word at `addr`: private to the address space, or the memory-file
/// location for shared futexes.
pub fn futex_key<P: Platform>(task: &Task<P>, addr: u64, private: bool) -> Result<Key, Errno> {
    if !addr.is_multiple_of(4) {
        return Err(Errno::EINVAL);
    }
    if private {
        Ok(Key::Private {
            space: Arc::as_ptr(&task.mm) as usize,
            addr,
        })
    } else {
        Ok(Key::Shared {
            offset: task.mm().frame_of(addr)?,
        })
    }
}

fn read_u32<P: Platform>(task: &Task<P>, addr: u64) -> Result<u32, Errno> {
    let mut b = [0u8; 4];
    task.copy_in(addr, &mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn timespec<P: Platform>(task: &Task<P>, addr: u64) -> Result<Duration, Errno> {
    let mut b = [0u8; 16];
    task.copy_in(addr, &mut b)?;
    let sec = i64::from_le_bytes(b[..8].try_into().unwrap_or_default());
    let nsec = i64::from_le_bytes(b[8..].try_into().unwrap_or_default());
    if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
        return Err(Errno::EINVAL);
    }
    Ok(Duration::new(sec as u64, nsec as u32))
}

/// `futex(uaddr, op, val, timeout_or_val2, uaddr2, val3)`.
pub fn futex<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let [uaddr, op, val, timeout, uaddr2, val3] = a;
    let private = op & FUTEX_PRIVATE != 0;
    let cmd = op & !(FUTEX_PRIVATE | FUTEX_CLOCK_REALTIME);
    let val = val as u32;
    let key = futex_key(task, uaddr, private)?;
    let kernel = task.kernel.clone();
    match cmd {
        FUTEX_WAIT | FUTEX_WAIT_BITSET => {
            let bitset = if cmd == FUTEX_WAIT {
                u32::MAX
            } else {
                val3 as u32
            };
            let deadline = if timeout == 0 {
                None
            } else {
                let t = timespec(task, timeout)?;
                Some(if cmd == FUTEX_WAIT {
                    Instant::now() + t
                } else if op & FUTEX_CLOCK_REALTIME != 0 {
                    let now = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .unwrap_or_default();
                    Instant::now() + t.saturating_sub(now)
                } else {
                    kernel.started + t
                })
            };
            let signals = task.signals.clone();
            kernel.futexes.wait(key, &signals, bitset, deadline, || {
                Ok(read_u32(task, uaddr)? == val)
            })?;
            Ok(0)
        }
        FUTEX_WAKE => Ok(u64::from(kernel.futexes.wake(key, val, u32::MAX))),
        FUTEX_WAKE_BITSET => {
            if val3 as u32 == 0 {
                return Err(Errno::EINVAL);
            }
            Ok(u64::from(kernel.futexes.wake(key, val, val3 as u32)))
        }
        FUTEX_REQUEUE | FUTEX_CMP_REQUEUE => {
            let to = futex_key(task, uaddr2, private)?;
            let check = cmd == FUTEX_CMP_REQUEUE;
            let n = kernel.futexes.requeue(key, to, val, timeout as u32, || {
                Ok(!check || read_u32(task, uaddr)? == val3 as u32)
            })?;
            Ok(u64::from(n))
        }
        FUTEX_WAKE_OP => {
            let to = futex_key(task, uaddr2, private)?;
            let old = wake_op_apply(task, uaddr2, val3 as u32)?;
            let mut woken = kernel.futexes.wake(key, val, u32::MAX);
            if wake_op_compare(old, val3 as u32) {
                woken += kernel.futexes.wake(to, timeout as u32, u32::MAX);
            }
            Ok(u64::from(woken))
        }
        _ => Err(Errno::ENOSYS),
    }
}

/// FUTEX_WAKE_OP's operation on `*addr`; returns the old value.
fn wake_op_apply<P: Platform>(task: &Task<P>, addr: u64, encoded: u32) -> Result<u32, Errno> {
    let op = (encoded >> 28) & 0x7;
    let shift = encoded >> 31 != 0;
    let mut arg = (encoded >> 12) & 0xfff;
    if shift {
        arg = 1u32.checked_shl(arg).unwrap_or(0);
    }
    let old = read_u32(task, addr)?;
    let new = match op {
        0 => arg,
        1 => old.wrapping_add(arg),
        2 => old | arg,
        3 => old & !arg,
        4 => old ^ arg,
        _ => return Err(Errno::ENOSYS),
    };
    task.copy_out(addr, &new.to_le_bytes())?;
    Ok(old)
}

fn wake_op_compare(old: u32, encoded: u32) -> bool {
    let cmp = (encoded >> 24) & 0xf;
    let arg = encoded & 0xfff;
    match cmp {
        0 => old == arg,
        1 => old != arg,
        2 => (old as i32) < arg as i32,
        3 => (old as i32) <= arg as i32,
        4 => (old as i32) > arg as i32,
        5 => (old as i32) >= arg as i32,
        _ => false,
    }
}
