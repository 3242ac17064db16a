//! File descriptors: read, write, seek, close, dup, fcntl, ioctl, getdents.

use std::sync::Arc;

use abi::Errno;

use super::int;
use crate::platform::Platform;
use crate::task::Task;
use crate::vfs::OpenFile;

/// Largest single transfer, as Linux (MAX_RW_COUNT: INT_MAX rounded down to a page).
const MAX_RW: u64 = 0x7fff_f000;
/// Bounce-buffer size for one step of a transfer.
const CHUNK: usize = 64 * 1024;
/// IOV_MAX.
const IOV_MAX: u64 = 1024;

fn file<P: Platform>(task: &Task<P>, fd: u64) -> Result<Arc<OpenFile>, Errno> {
    task.fds.get(int(fd))
}

/// Read into user memory at `addr` with `read_fn`, in chunks, stopping at a short read.
fn read_into<P: Platform>(
    task: &Task<P>,
    addr: u64,
    len: u64,
    mut read_fn: impl FnMut(&mut [u8], u64) -> Result<usize, Errno>,
) -> Result<u64, Errno> {
    let len = len.min(MAX_RW);
    let mut done: u64 = 0;
    while done < len {
        let step = ((len - done) as usize).min(CHUNK);
        let mut buf = vec![0u8; step];
        let n = match read_fn(&mut buf, done) {
            Ok(n) => n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        task.copy_out(addr + done, &buf[..n])?;
        done += n as u64;
        if n < step {
            break;
        }
    }
    Ok(done)
}

/// Write from user memory at `addr` with `write_fn`, in chunks, stopping at a short write.
fn write_from<P: Platform>(
    task: &Task<P>,
    addr: u64,
    len: u64,
    mut write_fn: impl FnMut(&[u8], u64) -> Result<usize, Errno>,
) -> Result<u64, Errno> {
    let len = len.min(MAX_RW);
    let mut done: u64 = 0;
    while done < len {
        let step = ((len - done) as usize).min(CHUNK);
        let mut buf = vec![0u8; step];
        task.copy_in(addr + done, &mut buf)?;
        let n = match write_fn(&buf, done) {
            Ok(n) => n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        done += n as u64;
        if n < step {
            break;
        }
    }
    Ok(done)
}

pub fn read<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let f = file(task, a[0])?;
    read_into(task, a[1], a[2], |buf, _| f.read(buf))
}

/// A write to a pipe nobody reads also raises SIGPIPE.
fn sigpipe<P: Platform>(task: &Task<P>, r: Result<u64, Errno>) -> Result<u64, Errno> {
    if r == Err(Errno::EPIPE) {
        task.signals
            .send(abi::SigInfo::kill(abi::signal::SIGPIPE, task.tgid, 0));
    }
    r
}

pub fn write<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let f = file(task, a[0])?;
    let r = write_from(task, a[1], a[2], |buf, _| f.write(buf));
    sigpipe(task, r)
}

fn offset(raw: u64) -> Result<i64, Errno> {
    let off = raw as i64;
    if off < 0 { Err(Errno::EINVAL) } else { Ok(off) }
}

pub fn pread64<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let f = file(task, a[0])?;
    let base = offset(a[3])?;
    read_into(task, a[1], a[2], |buf, done| {
        f.pread(buf, base + done as i64)
    })
}

pub fn pwrite64<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let f = file(task, a[0])?;
    let base = offset(a[3])?;
    write_from(task, a[1], a[2], |buf, done| {
        f.pwrite(buf, base + done as i64)
    })
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

/// Gather the iovecs' bytes (at most MAX_RW in all).
fn gather<P: Platform>(task: &Task<P>, vecs: &[(u64, u64)]) -> Result<Vec<u8>, Errno> {
    let mut data = Vec::new();
    for &(base, len) in vecs {
        let len = len.min(MAX_RW - data.len() as u64) as usize;
        let at = data.len();
        data.resize(at + len, 0);
        task.copy_in(base, &mut data[at..])?;
    }
    Ok(data)
}

/// Scatter `data` over the iovecs.
fn scatter<P: Platform>(task: &Task<P>, vecs: &[(u64, u64)], data: &[u8]) -> Result<(), Errno> {
    let mut done = 0;
    for &(base, len) in vecs {
        if done == data.len() {
            break;
        }
        let step = (len as usize).min(data.len() - done);
        task.copy_out(base, &data[done..done + step])?;
        done += step;
    }
    Ok(())
}

fn iov_total(vecs: &[(u64, u64)]) -> usize {
    vecs.iter().map(|v| v.1).sum::<u64>().min(MAX_RW) as usize
}

pub fn writev<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let f = file(task, a[0])?;
    let data = gather(task, &iovecs(task, a[1], a[2])?)?;
    // One write, so the pieces reach a pipe or terminal together, as writev promises.
    let r = f.write(&data).map(|n| n as u64);
    sigpipe(task, r)
}

pub fn readv<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let f = file(task, a[0])?;
    let vecs = iovecs(task, a[1], a[2])?;
    let mut buf = vec![0u8; iov_total(&vecs)];
    let n = f.read(&mut buf)?;
    scatter(task, &vecs, &buf[..n])?;
    Ok(n as u64)
}

pub fn preadv<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let f = file(task, a[0])?;
    let vecs = iovecs(task, a[1], a[2])?;
    let mut buf = vec![0u8; iov_total(&vecs)];
    let n = f.pread(&mut buf, offset(a[3])?)?;
    scatter(task, &vecs, &buf[..n])?;
    Ok(n as u64)
}

pub fn pwritev<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let f = file(task, a[0])?;
    let data = gather(task, &iovecs(task, a[1], a[2])?)?;
    Ok(f.pwrite(&data, offset(a[3])?)? as u64)
}

/// `sendfile(out_fd, in_fd, offset, count)`: copies through a bounce buffer. With `offset`
/// the input is read there (its file offset untouched) and `*offset` advanced; without, the
/// input's offset moves by what was written. `EINVAL` for an `O_APPEND` output, as Linux.
pub fn sendfile<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let (out, input) = (file(task, a[0])?, file(task, a[1])?);
    // Directories have no data to splice: EINVAL, as Linux.
    if out.flags().contains(crate::vfs::OpenFlags::APPEND) || input.stat()?.is_dir() {
        return Err(Errno::EINVAL);
    }
    let mut at = match a[2] {
        0 => None,
        ptr => {
            let mut raw = [0u8; 8];
            task.copy_in(ptr, &mut raw)?;
            Some(offset(u64::from_ne_bytes(raw))?)
        }
    };
    let len = a[3].min(MAX_RW);
    let mut done: u64 = 0;
    let mut buf = vec![0u8; CHUNK.min(len as usize)];
    let result = loop {
        if done == len {
            break Ok(done);
        }
        let step = ((len - done) as usize).min(CHUNK);
        let read = match at {
            Some(off) => input.pread(&mut buf[..step], off + done as i64),
            None => input.read(&mut buf[..step]),
        };
        let n = match read {
            Ok(0) => break Ok(done),
            Ok(n) => n,
            Err(e) if done == 0 => break Err(e),
            Err(_) => break Ok(done),
        };
        let written = match write_from_buf(&out, &buf[..n]) {
            Ok(w) => w,
            Err(e) if done == 0 => {
                // Nothing went out: the input's offset must not move either.
                if at.is_none() {
                    let _ = input.seek(-(n as i64), crate::vfs::SEEK_CUR);
                }
                break Err(e);
            }
            Err(_) => 0,
        };
        done += written as u64;
        if written < n {
            if at.is_none() {
                let _ = input.seek(written as i64 - n as i64, crate::vfs::SEEK_CUR);
            }
            break Ok(done);
        }
        if n < step {
            break Ok(done);
        }
    };
    if let (Some(off), Ok(n)) = (at.as_mut(), &result) {
        *off += *n as i64;
        task.copy_out(a[2], &off.to_ne_bytes())?;
    }
    sigpipe(task, result)
}

/// Writes all of `data` to `out` unless it stops short; the count written.
fn write_from_buf(out: &OpenFile, data: &[u8]) -> Result<usize, Errno> {
    let mut done = 0;
    while done < data.len() {
        match out.write(&data[done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(done)
}

pub fn lseek<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    Ok(file(task, a[0])?.seek(a[1] as i64, int(a[2]))? as u64)
}

pub fn close<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    task.fds.close(int(a[0]))?;
    Ok(0)
}

pub fn dup<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    Ok(task.fds.dup(int(a[0]))? as u64)
}

#[cfg(target_arch = "x86_64")]
pub fn dup2<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    Ok(task.fds.dup2(int(a[0]), int(a[1]))? as u64)
}

pub fn dup3<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    Ok(task.fds.dup3(int(a[0]), int(a[1]), a[2] as u32)? as u64)
}

pub fn fcntl<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    task.fds.fcntl(int(a[0]), int(a[1]), a[2])
}

/// ioctl: FIONBIO/FIOCLEX/FIONCLEX on any descriptor; terminals are not exposed yet, so
/// terminal requests fail with ENOTTY.
pub fn ioctl<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    const FIONCLEX: u64 = 0x5450;
    const FIOCLEX: u64 = 0x5451;
    const FIONBIO: u64 = 0x5421;
    let fd = int(a[0]);
    let f = task.fds.get(fd)?;
    match a[1] {
        FIOCLEX => task.fds.fcntl(fd, abi::flags::fcntl::F_SETFD, 1).map(|_| 0),
        FIONCLEX => task.fds.fcntl(fd, abi::flags::fcntl::F_SETFD, 0).map(|_| 0),
        FIONBIO => {
            let mut on = [0u8; 4];
            task.copy_in(a[2], &mut on)?;
            let mut flags = f.flags();
            flags.set(crate::vfs::OpenFlags::NONBLOCK, u32::from_le_bytes(on) != 0);
            f.set_flags(flags).map(|()| 0)
        }
        TIOCGPGRP | TIOCGSID => {
            is_tty(&f)?;
            // Every process of the sandbox is in one group and session, led by its first
            // process, which is therefore always in the foreground.
            let pgrp = task.kernel.init_pid();
            task.copy_out(a[2], &pgrp.to_le_bytes())?;
            Ok(0)
        }
        TIOCSPGRP => {
            is_tty(&f)?;
            let mut pgrp = [0u8; 4];
            task.copy_in(a[2], &mut pgrp)?;
            if i32::from_le_bytes(pgrp) != task.kernel.init_pid() {
                return Err(Errno::EPERM);
            }
            Ok(0)
        }
        TIOCSCTTY | TIOCNOTTY => is_tty(&f).map(|()| 0),
        cmd => match TTY_STRUCTS.iter().find(|t| t.0 == cmd) {
            Some(&(cmd, size, reads, fills)) => {
                let mut buf = vec![0u8; size];
                if reads {
                    task.copy_in(a[2], &mut buf)?;
                }
                let r = f.ioctl_buf(cmd as u32, &mut buf)?;
                if fills {
                    task.copy_out(a[2], &buf)?;
                }
                Ok(r)
            }
            None => f.ioctl(cmd as u32, a[2]),
        },
    }
}

const TCGETS: u64 = 0x5401;
const TCSETS: u64 = 0x5402;
const TCSETSW: u64 = 0x5403;
const TCSETSF: u64 = 0x5404;
const TIOCSCTTY: u64 = 0x540e;
const TIOCGPGRP: u64 = 0x540f;
const TIOCSPGRP: u64 = 0x5410;
const TIOCGWINSZ: u64 = 0x5413;
const TIOCSWINSZ: u64 = 0x5414;
const FIONREAD: u64 = 0x541b;
const TIOCNOTTY: u64 = 0x5422;
const TIOCGSID: u64 = 0x5429;
/// `struct termios` of the kernel (4 flag words, the line discipline, 19 control chars).
const TERMIOS_SIZE: usize = 36;

/// Terminal requests with a structure argument: (request, size, read from the caller,
/// filled for the caller).
const TTY_STRUCTS: &[(u64, usize, bool, bool)] = &[
    (TCGETS, TERMIOS_SIZE, false, true),
    (TCSETS, TERMIOS_SIZE, true, false),
    (TCSETSW, TERMIOS_SIZE, true, false),
    (TCSETSF, TERMIOS_SIZE, true, false),
    (TIOCGWINSZ, 8, false, true),
    (TIOCSWINSZ, 8, true, false),
    (FIONREAD, 4, false, true),
];

/// `ENOTTY` unless `f` is a terminal.
fn is_tty(f: &OpenFile) -> Result<(), Errno> {
    f.ioctl_buf(TCGETS as u32, &mut [0u8; TERMIOS_SIZE])
        .map(drop)
}

pub fn getdents64<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let f = file(task, a[0])?;
    let mut buf = vec![0u8; (a[2] as usize).min(CHUNK)];
    let n = f.getdents64(&mut buf)?;
    task.copy_out(a[1], &buf[..n])?;
    Ok(n as u64)
}

pub fn ftruncate<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    file(task, a[0])?.truncate(a[1] as i64)?;
    Ok(0)
}

/// fsync and friends: everything lives in memory or on the read-only host layer.
pub fn fsync<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    file(task, a[0])?;
    Ok(0)
}
