//! File descriptors: read, write and friends.

use abi::Errno;

use super::int;
use crate::platform::Platform;
use crate::task::Task;

/// Largest single transfer, as Linux (MAX_RW_COUNT: INT_MAX rounded down to a page).
const MAX_RW: u64 = 0x7fff_f000;
/// Bounce-buffer size for one step of a transfer.
const CHUNK: usize = 64 * 1024;
/// IOV_MAX.
const IOV_MAX: u64 = 1024;

pub fn read<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let file = task.files.get(int(a[0]))?;
    let len = a[2].min(MAX_RW) as usize;
    let mut buf = vec![0u8; len.min(CHUNK)];
    let n = file.read(&mut buf)?;
    task.copy_out(a[1], &buf[..n])?;
    Ok(n as u64)
}

pub fn write<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let file = task.files.get(int(a[0]))?;
    let len = a[2].min(MAX_RW) as usize;
    let mut done = 0;
    while done < len {
        let step = (len - done).min(CHUNK);
        let mut buf = vec![0u8; step];
        task.copy_in(a[1] + done as u64, &mut buf)?;
        let n = file.write(&buf)?;
        done += n;
        if n < step {
            break;
        }
    }
    Ok(done as u64)
}

/// The (base, len) pairs of an iovec array.
fn iovecs<P: Platform>(task: &Task<P>, addr: u64, count: u64) -> Result<Vec<(u64, u64)>, Errno> {
    if count > IOV_MAX {
        return Err(Errno::EINVAL);
    }
    let mut raw = vec![0u8; count as usize * 16];
    task.copy_in(addr, &mut raw)?;
    let mut total: u64 = 0;
    raw.chunks_exact(16)
        .map(|c| {
            let base = u64::from_le_bytes(c[..8].try_into().unwrap_or_default());
            let len = u64::from_le_bytes(c[8..].try_into().unwrap_or_default());
            total = total.checked_add(len).ok_or(Errno::EINVAL)?;
            if len > isize::MAX as u64 || total > isize::MAX as u64 {
                return Err(Errno::EINVAL);
            }
            Ok((base, len))
        })
        .collect()
}

pub fn writev<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let file = task.files.get(int(a[0]))?;
    let mut data = Vec::new();
    for (base, len) in iovecs(task, a[1], a[2])? {
        let len = len.min(MAX_RW - data.len() as u64) as usize;
        let at = data.len();
        data.resize(at + len, 0);
        task.copy_in(base, &mut data[at..])?;
    }
    // One write, so the pieces reach a pipe or terminal together, as writev promises.
    let mut done = 0;
    while done < data.len() {
        let n = file.write(&data[done..])?;
        if n == 0 {
            break;
        }
        done += n;
    }
    Ok(done as u64)
}

pub fn readv<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let file = task.files.get(int(a[0]))?;
    let vecs = iovecs(task, a[1], a[2])?;
    let total: u64 = vecs.iter().map(|v| v.1).sum::<u64>().min(MAX_RW);
    let mut buf = vec![0u8; (total as usize).min(CHUNK)];
    let n = file.read(&mut buf)?;
    let mut done = 0;
    for (base, len) in vecs {
        if done == n {
            break;
        }
        let step = (len as usize).min(n - done);
        task.copy_out(base, &buf[done..done + step])?;
        done += step;
    }
    Ok(n as u64)
}

pub fn close<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    task.files.close(int(a[0]))?;
    Ok(0)
}

/// No terminal is exposed to the sandbox yet: every descriptor is "not a tty".
pub fn ioctl<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    task.files.get(int(a[0]))?;
    Err(Errno::ENOTTY)
}
