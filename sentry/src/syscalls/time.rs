//! Clocks and sleeping.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use abi::Errno;
use abi::time::*;

use super::int;
use crate::platform::Platform;
use crate::task::Task;

fn timespec_bytes(d: Duration) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&(d.as_secs() as i64).to_le_bytes());
    b[8..].copy_from_slice(&i64::from(d.subsec_nanos()).to_le_bytes());
    b
}

/// The time of `clock` as a duration since its epoch.
fn now<P: Platform>(task: &Task<P>, clock: i32) -> Result<Duration, Errno> {
    match clock {
        CLOCK_REALTIME | CLOCK_REALTIME_COARSE | CLOCK_REALTIME_ALARM => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|_| Errno::EINVAL),
        CLOCK_MONOTONIC
        | CLOCK_MONOTONIC_RAW
        | CLOCK_MONOTONIC_COARSE
        | CLOCK_BOOTTIME
        | CLOCK_BOOTTIME_ALARM => Ok(task.kernel.started.elapsed()),
        // CPU time is approximated by wall time since the sandbox started.
        CLOCK_PROCESS_CPUTIME_ID | CLOCK_THREAD_CPUTIME_ID => Ok(task.kernel.started.elapsed()),
        _ => Err(Errno::EINVAL),
    }
}

pub fn clock_gettime<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let t = now(task, int(a[0]))?;
    task.copy_out(a[1], &timespec_bytes(t))?;
    Ok(0)
}

pub fn gettimeofday<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    if a[0] != 0 {
        let t = now(task, CLOCK_REALTIME)?;
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&(t.as_secs() as i64).to_le_bytes());
        b[8..].copy_from_slice(&i64::from(t.subsec_micros()).to_le_bytes());
        task.copy_out(a[0], &b)?;
    }
    if a[1] != 0 {
        task.copy_out(a[1], &[0u8; 8])?;
    }
    Ok(0)
}

fn read_timespec<P: Platform>(task: &Task<P>, addr: u64) -> Result<Duration, Errno> {
    let mut b = [0u8; 16];
    task.copy_in(addr, &mut b)?;
    let sec = i64::from_le_bytes(b[..8].try_into().unwrap_or_default());
    let nsec = i64::from_le_bytes(b[8..].try_into().unwrap_or_default());
    if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
        return Err(Errno::EINVAL);
    }
    Ok(Duration::new(sec as u64, nsec as u32))
}

pub fn nanosleep<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let d = read_timespec(task, a[0])?;
    sleep(task, d, a[1])
}

pub fn clock_nanosleep<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    const TIMER_ABSTIME: u64 = 1;
    let clock = int(a[0]);
    let t = read_timespec(task, a[2])?;
    if a[1] & TIMER_ABSTIME != 0 {
        let d = t.saturating_sub(now(task, clock)?);
        // An absolute sleep restarts with the same deadline, so it reports nothing left.
        return sleep(task, d, 0);
    }
    now(task, clock)?;
    sleep(task, t, a[3])
}

/// Sleep for `d`. A signal with a handler ends it with `EINTR`, and the time left goes to
/// the timespec at `rem` when there is one, as Linux does.
fn sleep<P: Platform>(task: &mut Task<P>, d: Duration, rem: u64) -> Result<u64, Errno> {
    let deadline = Instant::now() + d;
    if crate::wait::sleep_until(deadline).is_ok() {
        return Ok(0);
    }
    if rem != 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&(left.as_secs() as i64).to_le_bytes());
        b[8..].copy_from_slice(&i64::from(left.subsec_nanos()).to_le_bytes());
        task.copy_out(rem, &b)?;
    }
    Err(Errno::EINTR)
}
