//! Waiting on many descriptors: poll, select, epoll; and the files that make it useful:
//! pipes and eventfds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use abi::Errno;
use abi::poll::PollEvents;

use super::int;
use crate::epoll::{Epoll, EpollFile};
use crate::pipe::{EventFd, Pipe};
use crate::platform::Platform;
use crate::task::Task;
use crate::vfs::{OpenFile, OpenFlags};
use crate::wait::{WaitQueue, block_on};

/// ERESTARTNOHAND: restart unless a handler runs (then EINTR), as poll does.
const ERESTARTNOHAND: Errno = Errno::new(514);

fn new_file(ops: impl crate::vfs::FileOps + 'static, flags: OpenFlags) -> Arc<OpenFile> {
    Arc::new(OpenFile::new(None, flags, Box::new(ops)))
}

pub fn pipe2<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let flags = OpenFlags::from_bits_retain(a[1] as u32);
    let allowed = OpenFlags::CLOEXEC | OpenFlags::NONBLOCK | OpenFlags::DIRECT;
    if !allowed.contains(flags) {
        return Err(Errno::EINVAL);
    }
    let nonblock = flags & OpenFlags::NONBLOCK;
    let (r, w) = Pipe::open();
    let cloexec = flags.contains(OpenFlags::CLOEXEC);
    let rfd = task
        .fds
        .insert(new_file(r, OpenFlags::RDONLY | nonblock), cloexec)?;
    let wfd = match task
        .fds
        .insert(new_file(w, OpenFlags::WRONLY | nonblock), cloexec)
    {
        Ok(fd) => fd,
        Err(e) => {
            let _ = task.fds.close(rfd);
            return Err(e);
        }
    };
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&rfd.to_le_bytes());
    out[4..].copy_from_slice(&wfd.to_le_bytes());
    if let Err(e) = task.copy_out(a[0], &out) {
        let _ = task.fds.close(rfd);
        let _ = task.fds.close(wfd);
        return Err(e);
    }
    Ok(0)
}

#[cfg(target_arch = "x86_64")]
pub fn pipe<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    pipe2(task, [a[0], 0, 0, 0, 0, 0])
}

pub fn eventfd2<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    const EFD_SEMAPHORE: u32 = 1;
    let flags = a[1] as u32;
    let open = OpenFlags::from_bits_retain(flags & !EFD_SEMAPHORE);
    if !(OpenFlags::CLOEXEC | OpenFlags::NONBLOCK).contains(open) {
        return Err(Errno::EINVAL);
    }
    let file = new_file(
        EventFd::new(u64::from(a[0] as u32), flags & EFD_SEMAPHORE != 0),
        OpenFlags::RDWR | (open & OpenFlags::NONBLOCK),
    );
    Ok(task.fds.insert(file, open.contains(OpenFlags::CLOEXEC))? as u64)
}

#[cfg(target_arch = "x86_64")]
pub fn eventfd<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    eventfd2(task, [a[0], 0, 0, 0, 0, 0])
}

/// Wait until one of `files` is ready by `check` (or the deadline).
fn wait_files(
    files: &[Arc<OpenFile>],
    extra: Option<&WaitQueue>,
    deadline: Option<Instant>,
    check: impl FnMut() -> bool,
) -> Result<(), Errno> {
    let mut queues: Vec<&WaitQueue> = files.iter().filter_map(|f| f.ops().wait_queue()).collect();
    queues.extend(extra);
    block_on(&queues, deadline, check)
}

/// The core of poll: `fds` as (fd, requested events); returns the revents of each.
fn do_poll<P: Platform>(
    task: &Task<P>,
    fds: &[(i32, PollEvents)],
    deadline: Option<Instant>,
) -> Result<Vec<PollEvents>, Errno> {
    let files: Vec<Option<Arc<OpenFile>>> = fds
        .iter()
        .map(|&(fd, _)| if fd < 0 { None } else { task.fds.get(fd).ok() })
        .collect();
    let scan = || -> Vec<PollEvents> {
        fds.iter()
            .zip(&files)
            .map(|(&(fd, ev), f)| match f {
                _ if fd < 0 => PollEvents::empty(),
                None => PollEvents::POLLNVAL,
                Some(f) => f.readiness(ev | PollEvents::POLLERR | PollEvents::POLLHUP),
            })
            .collect()
    };
    let mut result = scan();
    if result.iter().any(|r| !r.is_empty()) || deadline.is_some_and(|d| d <= Instant::now()) {
        return Ok(result);
    }
    let live: Vec<Arc<OpenFile>> = files.iter().flatten().cloned().collect();
    match wait_files(&live, None, deadline, || {
        result = scan();
        result.iter().any(|r| !r.is_empty())
    }) {
        Ok(()) => Ok(result),
        Err(e) if e == Errno::ETIMEDOUT => Ok(result),
        Err(_) => Err(ERESTARTNOHAND),
    }
}

fn deadline_ms(ms: i32) -> Option<Instant> {
    (ms >= 0).then(|| Instant::now() + Duration::from_millis(ms as u64))
}

fn read_timespec<P: Platform>(task: &Task<P>, addr: u64) -> Result<Option<Instant>, Errno> {
    if addr == 0 {
        return Ok(None);
    }
    let mut b = [0u8; 16];
    task.copy_in(addr, &mut b)?;
    let sec = i64::from_le_bytes(b[..8].try_into().unwrap_or_default());
    let nsec = i64::from_le_bytes(b[8..].try_into().unwrap_or_default());
    if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
        return Err(Errno::EINVAL);
    }
    Ok(Some(
        Instant::now() + Duration::new(sec as u64, nsec as u32),
    ))
}

fn poll_common<P: Platform>(
    task: &Task<P>,
    addr: u64,
    n: u64,
    deadline: Option<Instant>,
) -> Result<u64, Errno> {
    if n > 1 << 20 {
        return Err(Errno::EINVAL);
    }
    let mut raw = vec![0u8; n as usize * 8];
    task.copy_in(addr, &mut raw)?;
    let fds: Vec<(i32, PollEvents)> = raw
        .chunks_exact(8)
        .map(|c| {
            let fd = i32::from_le_bytes(c[..4].try_into().unwrap_or_default());
            let ev = i16::from_le_bytes(c[4..6].try_into().unwrap_or_default());
            (fd, PollEvents::from_bits_retain(ev))
        })
        .collect();
    let revents = do_poll(task, &fds, deadline)?;
    let mut ready = 0;
    for (i, r) in revents.iter().enumerate() {
        raw[i * 8 + 6..i * 8 + 8].copy_from_slice(&r.bits().to_le_bytes());
        ready += u64::from(!r.is_empty());
    }
    task.copy_out(addr, &raw)?;
    Ok(ready)
}

#[cfg(target_arch = "x86_64")]
pub fn poll<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    poll_common(task, a[0], a[1], deadline_ms(a[2] as i32))
}

/// Run `f` with the signal mask at `mask_addr` in place (as ppoll/pselect/epoll_pwait do).
fn with_mask<P: Platform, R>(
    task: &mut Task<P>,
    mask_addr: u64,
    f: impl FnOnce(&mut Task<P>) -> Result<R, Errno>,
) -> Result<R, Errno> {
    if mask_addr == 0 {
        return f(task);
    }
    let mut b = [0u8; 8];
    task.copy_in(mask_addr, &mut b)?;
    let mask = abi::SigSet::from_bits(u64::from_le_bytes(b) & !abi::SigSet::UNBLOCKABLE.bits());
    let old = {
        let mut p = task.signals.lock();
        let old = p.mask;
        p.mask = mask;
        old
    };
    let result = f(task);
    let mut p = task.signals.lock();
    if result.is_err() {
        // The handler runs with the temporary mask; the old one comes back after it.
        p.saved_mask = Some(old);
    } else {
        p.mask = old;
    }
    result
}

pub fn ppoll<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let deadline = read_timespec(task, a[2])?;
    if a[3] != 0 && a[4] != 8 {
        return Err(Errno::EINVAL);
    }
    with_mask(task, a[3], |t| poll_common(t, a[0], a[1], deadline))
}

/// select's fd_set bitmaps → poll requests, and back.
fn select_common<P: Platform>(
    task: &Task<P>,
    nfds: u64,
    sets: [u64; 3],
    deadline: Option<Instant>,
) -> Result<u64, Errno> {
    if nfds > 1024 * 1024 {
        return Err(Errno::EINVAL);
    }
    let bytes = (nfds as usize).div_ceil(64) * 8;
    let mut maps = [vec![0u8; bytes], vec![0u8; bytes], vec![0u8; bytes]];
    for (map, &addr) in maps.iter_mut().zip(&sets) {
        if addr != 0 {
            task.copy_in(addr, map)?;
        }
    }
    let bit = |m: &[u8], fd: usize| m[fd / 8] & (1 << (fd % 8)) != 0;
    let (rd, wr, ex) = (
        PollEvents::POLLIN | PollEvents::POLLHUP | PollEvents::POLLERR,
        PollEvents::POLLOUT | PollEvents::POLLERR,
        PollEvents::POLLPRI,
    );
    let mut fds = Vec::new();
    for fd in 0..nfds as usize {
        let mut ev = PollEvents::empty();
        for (m, e) in maps.iter().zip([rd, wr, ex]) {
            if bit(m, fd) {
                ev |= e;
            }
        }
        if !ev.is_empty() {
            task.fds.get(fd as i32)?;
            fds.push((fd as i32, ev));
        }
    }
    let revents = do_poll(task, &fds, deadline)?;
    let mut out = [vec![0u8; bytes], vec![0u8; bytes], vec![0u8; bytes]];
    let mut count = 0;
    for (&(fd, ev), r) in fds.iter().zip(&revents) {
        let fd = fd as usize;
        for (k, want) in [rd, wr, ex].into_iter().enumerate() {
            if ev.intersects(want) && r.intersects(want) && bit(&maps[k], fd) {
                out[k][fd / 8] |= 1 << (fd % 8);
                count += 1;
            }
        }
    }
    for (map, &addr) in out.iter().zip(&sets) {
        if addr != 0 {
            task.copy_out(addr, map)?;
        }
    }
    Ok(count)
}

#[cfg(target_arch = "x86_64")]
pub fn select<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let deadline = if a[4] == 0 {
        None
    } else {
        let mut b = [0u8; 16];
        task.copy_in(a[4], &mut b)?;
        let sec = i64::from_le_bytes(b[..8].try_into().unwrap_or_default());
        let usec = i64::from_le_bytes(b[8..].try_into().unwrap_or_default());
        if sec < 0 || !(0..1_000_000).contains(&usec) {
            return Err(Errno::EINVAL);
        }
        Some(Instant::now() + Duration::new(sec as u64, usec as u32 * 1000))
    };
    select_common(task, a[0], [a[1], a[2], a[3]], deadline)
}

pub fn pselect6<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let deadline = read_timespec(task, a[4])?;
    // The sixth argument points at { const sigset_t *ss; size_t ss_len; }.
    let mask_addr = if a[5] == 0 {
        0
    } else {
        let mut b = [0u8; 16];
        task.copy_in(a[5], &mut b)?;
        u64::from_le_bytes(b[..8].try_into().unwrap_or_default())
    };
    with_mask(task, mask_addr, |t| {
        select_common(t, a[0], [a[1], a[2], a[3]], deadline)
    })
}

pub fn epoll_create1<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let flags = OpenFlags::from_bits_retain(a[0] as u32);
    if !OpenFlags::CLOEXEC.contains(flags) {
        return Err(Errno::EINVAL);
    }
    let file = new_file(EpollFile(Arc::new(Epoll::default())), OpenFlags::RDWR);
    Ok(task.fds.insert(file, flags.contains(OpenFlags::CLOEXEC))? as u64)
}

#[cfg(target_arch = "x86_64")]
pub fn epoll_create<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    if a[0] as i32 <= 0 {
        return Err(Errno::EINVAL);
    }
    epoll_create1(task, [0; 6])
}

/// The epoll instance behind `epfd` (EINVAL if it is not one).
fn epoll_of<P: Platform>(task: &Task<P>, epfd: u64) -> Result<(Arc<OpenFile>, Arc<Epoll>), Errno> {
    let file = task.fds.get(int(epfd))?;
    let ep = file
        .ops()
        .as_any()
        .and_then(|a| a.downcast_ref::<EpollFile>())
        .map(|e| e.0.clone())
        .ok_or(Errno::EINVAL)?;
    Ok((file, ep))
}

pub fn epoll_ctl<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let (epfile, ep) = epoll_of(task, a[0])?;
    let fd = int(a[2]);
    let file = task.fds.get(fd)?;
    if Arc::ptr_eq(&file, &epfile) {
        return Err(Errno::EINVAL);
    }
    if file.stat()?.file_type() == Some(crate::vfs::FileType::Regular) {
        // Regular files are always ready; Linux refuses them.
        return Err(Errno::EPERM);
    }
    let (events, data) = if int(a[1]) == crate::epoll::EPOLL_CTL_DEL {
        (0, 0)
    } else {
        let mut b = [0u8; 12];
        task.copy_in(a[3], &mut b)?;
        (
            u32::from_le_bytes(b[..4].try_into().unwrap_or_default()),
            u64::from_le_bytes(b[4..].try_into().unwrap_or_default()),
        )
    };
    ep.ctl(int(a[1]), fd, &file, events, data)?;
    Ok(0)
}

fn epoll_wait_common<P: Platform>(
    task: &Task<P>,
    a: [u64; 6],
    deadline: Option<Instant>,
) -> Result<u64, Errno> {
    let max = int(a[2]);
    if max <= 0 || max > (i32::MAX / 12) {
        return Err(Errno::EINVAL);
    }
    let (_file, ep) = epoll_of(task, a[0])?;
    let mut ready = ep.ready(max as usize);
    if ready.is_empty() && deadline.is_none_or(|d| d > Instant::now()) {
        let files = ep.files();
        let waited = wait_files(&files, Some(ep.queue()), deadline, || {
            ready = ep.ready(max as usize);
            !ready.is_empty()
        });
        match waited {
            Ok(()) => {}
            Err(e) if e == Errno::ETIMEDOUT => {}
            Err(_) => return Err(Errno::EINTR),
        }
    }
    let mut out = Vec::with_capacity(ready.len() * 12);
    for (events, data) in &ready {
        out.extend_from_slice(&events.to_le_bytes());
        out.extend_from_slice(&data.to_le_bytes());
    }
    task.copy_out(a[1], &out)?;
    Ok(ready.len() as u64)
}

#[cfg(target_arch = "x86_64")]
pub fn epoll_wait<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    epoll_wait_common(task, a, deadline_ms(a[3] as i32))
}

pub fn epoll_pwait<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    if a[4] != 0 && a[5] != 8 {
        return Err(Errno::EINVAL);
    }
    let deadline = deadline_ms(a[3] as i32);
    with_mask(task, a[4], |t| epoll_wait_common(t, a, deadline))
}
